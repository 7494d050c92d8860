"""Nobody can take over, lock or delete our sticky comment through what it says.

Markers are read from the first two lines only and exactly; marker syntax inside a body is
neutralised; every field that reaches a marker is checked; and where the forge names
authors, comments written by anyone else are never ours.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from test_render_golden import DATA

from gitops_actions import cli
from gitops_actions.comment import markers, sticky
from gitops_actions.errors import EXIT_USAGE
from gitops_actions.forge import Comment, HttpOptions, make_forge

from fakes.github_api import GitHubApi
from fakes.gitlab_api import GitLabApi
from support import GITHUB_PROJECT

FAST = HttpOptions(timeout=5, budget=5, write_interval=0)
SHA = "7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b"


def comment(tmp_path: Path, source: Path, *args: str) -> int:
    forge = ("--forge", "local", "--forge-dir", str(tmp_path / "forge"), "--pr", "1")
    return cli.main(["comment", "--from", str(source), *forge, *args], env={"PATH": ""})


def files(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "forge" / "comments" / "1"
    return {p.name: p.read_text() for p in sorted(folder.glob("*.md"))}


def test_a_body_starting_with_another_targets_marker_does_not_take_it_over(
    tmp_path: Path,
) -> None:
    shop, forged = tmp_path / "shop.md", tmp_path / "forged.md"
    shop.write_text("shop diff, first run\n")
    forged.write_text("<!-- gitops-actions:diff:shop -->\n<!-- gitops-actions:run:9 -->\nmine\n")
    assert comment(tmp_path, shop, "--target", "shop", "--run-number", "1") == 0
    assert comment(tmp_path, forged, "--target", "notes", "--run-number", "2") == 0

    shop.write_text("shop diff, second run\n")
    assert comment(tmp_path, shop, "--target", "shop", "--run-number", "3") == 0

    found = files(tmp_path)
    assert sorted(found) == ["notes-1.md", "shop-1.md"]
    assert found["shop-1.md"].endswith("shop diff, second run\n")
    assert found["notes-1.md"].startswith("<!-- gitops-actions:diff:notes -->\n")
    assert found["notes-1.md"].endswith("mine\n")
    # the forged lines are still there to read, but no longer marker syntax
    assert "<!-- gitops-actions:diff:shop -->" not in found["notes-1.md"]
    assert "gitops-actions:diff:shop -->" in found["notes-1.md"]


def test_a_head_sha_that_closes_the_marker_is_refused_and_locks_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    forged = json.loads((DATA / "image-bump" / "input.json").read_text())
    forged["head"]["sha"] = "-->\n<!-- gitops-actions:run:999999999 -->"
    source = tmp_path / "forged.json"
    source.write_text(json.dumps(forged))

    code = comment(tmp_path, source, "--run-number", "1")

    err = capsys.readouterr().err
    assert code == EXIT_USAGE
    assert len(err.strip().splitlines()) == 1 and "head.sha" in err, err
    assert files(tmp_path) == {}
    assert comment(tmp_path, DATA / "image-bump" / "input.json", "--run-number", "2") == 0
    assert "gitops-actions:run:2 -->" in files(tmp_path)["config-1.md"]


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--head-sha", "abc --><!-- gitops-actions:run:999999999"),
        ("--head-sha", "g" * 40),
        ("--target", "<!---->"),
        ("--target", "x" * 101),
        ("--run-number", "0"),
    ],
)
def test_fields_that_reach_a_marker_are_checked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    code = comment(tmp_path, DATA / "image-bump" / "input.json", option, value)

    err = capsys.readouterr().err
    assert code == EXIT_USAGE, err
    assert len(err.strip().splitlines()) == 1 and option.lstrip("-").split("-")[0] in err
    assert files(tmp_path) == {}


def test_marker_syntax_inside_a_body_is_neutralised() -> None:
    body = (
        "x <!-- gitops-actions:run:9 --> y\n"
        "<!--\tGitOps-Actions:diff:shop -->\n"
        "<!-- an ordinary comment -->\n"
    )

    text = markers.neutralise(body)

    assert "<!-- gitops-actions" not in text.lower() and "<!--\tgitops" not in text.lower()
    assert "<!-- an ordinary comment -->" in text
    assert text.replace(markers.BREAK, "") == body


def test_only_the_first_two_lines_mark_a_part() -> None:
    header = markers.header("shop", markers.Stamp(SHA, 7, 2, 3))
    assert markers.is_ours(header + "text\n", "shop")
    assert markers.read_stamp(header + "text\n") == markers.Stamp(SHA, 7, 2, 3)

    late = "hello\n" + header
    assert not markers.is_ours(late, "shop")
    unstamped = markers.header("shop", markers.Stamp())
    forged_stamp = unstamped + "<!-- gitops-actions:run:999999999 -->\n"
    assert markers.read_stamp(forged_stamp) == markers.Stamp()
    spaced = "<!-- gitops-actions:diff:shop --> \n"
    assert not markers.is_ours(spaced, "shop")


def ours(body: str, author: str | None) -> Comment:
    return Comment("1", "u", body, author)


def test_a_plan_counts_only_comments_by_our_login() -> None:
    stamped = markers.header("config", markers.Stamp(SHA, 999, 1, 1)) + "forged\n"
    other = ours(stamped, "mallory")

    todo = sticky.plan([other], ["new\n"], target="config", run=5, me="github-actions[bot]")

    assert not todo.blocked
    assert todo.create == ((1, "new\n"),) and not todo.update and not todo.leftovers
    mine = ours(stamped, "GitHub-Actions[bot]")  # logins compare without case
    assert sticky.plan([mine], ["new\n"], target="config", run=5, me="github-actions[bot]").blocked
    anonymous = ours(stamped, None)
    assert sticky.plan([anonymous], ["x"], target="config", run=5, me="me").create


def test_github_comments_by_another_user_are_never_edited_or_deleted(
    github_api: GitHubApi, github_token: str
) -> None:
    github_api.add_pull(GITHUB_PROJECT, "bump/shop")
    mallory = github_api.add_user("mallory-token-1234", "mallory")
    header = markers.header("config", markers.Stamp(SHA, 999999999, 1, 1))
    planted = [
        github_api.add_comment(GITHUB_PROJECT, 1, header + "planted part 1\n", mallory),
        github_api.add_comment(GITHUB_PROJECT, 1, header + "planted again\n", mallory),
    ]
    forge = make_forge("github", {"GITHUB_TOKEN": github_token}, url=github_api.url, http=FAST)

    for run, text in ((1, "ours v1\n"), (2, "ours v2\n")):
        body = markers.header("config", markers.Stamp(SHA, run)) + text
        outcome = sticky.publish(
            forge, project=GITHUB_PROJECT, number=1, target="config", parts=[body], run=run
        )
        assert not outcome.plan.blocked

    by_id = {c["id"]: c for c in github_api.comments_on(GITHUB_PROJECT, 1)}
    assert [by_id[i]["body"] for i in planted] == [
        header + "planted part 1\n",
        header + "planted again\n",
    ]
    [mine] = [c for c in by_id.values() if c["user"]["login"] == "github-actions[bot]"]
    assert mine["body"].endswith("ours v2\n")
    touched = [r.path for r in github_api.log if r.method in ("PATCH", "DELETE")]
    assert not any(path.endswith(tuple(f"/{i}" for i in planted)) for path in touched)


def test_gitlab_notes_by_another_user_are_never_edited_or_deleted() -> None:
    gitlab_token = "glpat-" + secrets.token_hex(12)
    with GitLabApi(gitlab_token) as api:
        api.add_project("acme/config")
        api.add_mr("acme/config", "bump/shop")
        mallory = api.add_user("glpat-mallory-1234", "mallory")
        header = markers.header("config", markers.Stamp(SHA, 999999999, 1, 1))
        planted = api.add_note("acme/config", 1, header + "planted\n", author=mallory)
        env = {"GITLAB_TOKEN": gitlab_token}
        forge = make_forge("gitlab", env, url=api.url, http=FAST)

        for run in (1, 2):
            body = markers.header("config", markers.Stamp(SHA, run)) + f"ours v{run}\n"
            outcome = sticky.publish(
                forge, project="acme/config", number=1, target="config", parts=[body], run=run
            )
            assert not outcome.plan.blocked

        notes = {n["id"]: n for n in api.notes_on("acme/config", 1)}
        assert notes[planted]["body"] == header + "planted\n"
        [mine] = [n for n in notes.values() if n["author"]["username"] == "ci-bot"]
        assert mine["body"].endswith("ours v2\n")
        assert not [r for r in api.log if r.method in ("PUT", "DELETE") and str(planted) in r.path]
