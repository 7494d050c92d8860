"""``gitops-actions comment`` as a pipeline runs it: a subprocess, each forge, CI events."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import pytest
from test_render_golden import DATA, PLAINTEXT, details_balanced, fences_balanced, large_diff

from gitops_actions.errors import EXIT_EXTERNAL, EXIT_USAGE

from fakes.github_api import GitHubApi
from support import GITHUB_PROJECT, base_env, hung_server, run_cli

REPO = GITHUB_PROJECT
HEAD = "7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b"


@pytest.fixture
def token(github_token: str) -> str:
    return github_token


@pytest.fixture
def api(github_api: GitHubApi) -> GitHubApi:
    github_api.add_pull(REPO, "bump/shop")
    return github_api


def outputs(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("output ") and "=" in line:
            name, _, value = line.removeprefix("output ").partition("=")
            found[name] = value
    return found


def test_dry_run_prints_the_parts_and_needs_no_forge(tmp_path: Path) -> None:
    proc = run_cli("comment", "--from", str(DATA / "image-bump" / "input.json"), "--dry-run")

    assert proc.returncode == 0, proc.stderr
    golden = (DATA / "image-bump" / "part-1.md").read_text()
    assert "----- part 1 of 1" in proc.stdout
    assert golden.replace("<!-- gitops-actions:run:1 -->", "") in proc.stdout
    assert outputs(proc.stdout)["parts"] == "1"


def test_local_forge_writes_files_and_prints_their_paths(tmp_path: Path) -> None:
    forge_dir = tmp_path / "forge"
    args = ("--forge", "local", "--forge-dir", str(forge_dir), "--pr", "3", "--run-number", "1")
    source = str(DATA / "image-bump" / "input.json")

    first = run_cli("comment", "--from", source, *args)
    again = run_cli("comment", "--from", source, *args)

    assert first.returncode == 0 and again.returncode == 0, first.stderr + again.stderr
    path = forge_dir / "comments" / "3" / "config-1.md"
    assert path.read_text() == (DATA / "image-bump" / "part-1.md").read_text()
    assert outputs(first.stdout) == {"parts": "1", "changed": "true", "comment-urls": str(path)}
    assert outputs(again.stdout)["changed"] == "false"


def test_a_large_diff_splits_then_shrinks_back_to_one_part(tmp_path: Path) -> None:
    big, small = tmp_path / "big.json", tmp_path / "small.json"
    big.write_text(large_diff().to_json())
    small.write_text((DATA / "image-bump" / "input.json").read_text())
    folder = tmp_path / "forge" / "comments" / "1"
    args = ("--forge", "local", "--forge-dir", str(tmp_path / "forge"), "--pr", "1")

    grown = run_cli("comment", "--from", str(big), *args, "--run-number", "1")
    assert grown.returncode == 0, grown.stderr
    written = [folder / "config-1.md", folder / "config-2.md"]
    assert sorted(folder.iterdir()) == written
    for path in written:
        text = path.read_text()
        assert len(text) < 65536 and fences_balanced(text) and details_balanced(text)

    shrunk = run_cli("comment", "--from", str(small), *args)
    assert shrunk.returncode == 0, shrunk.stderr
    assert sorted(folder.iterdir()) == [folder / "config-1.md"]
    assert "part" not in (folder / "config-1.md").read_text().splitlines()[1]


def test_markdown_is_posted_as_it_is(tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("## Release notes\n\n* shop 1.2.4\n")

    proc = run_cli(
        "comment",
        "--from",
        str(notes),
        "--forge",
        "local",
        "--forge-dir",
        str(tmp_path),
        "--pr",
        "2",
    )

    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "comments" / "2" / "default-1.md").read_text()
    assert text == "<!-- gitops-actions:diff:default -->\n\n## Release notes\n\n* shop 1.2.4\n"


def test_github_posts_through_the_api_and_never_prints_the_token(
    api: GitHubApi, token: str, tmp_path: Path
) -> None:
    env = base_env(GITHUB_TOKEN=token, GITHUB_API_URL=api.url, GITHUB_REPOSITORY=REPO)
    source = str(DATA / "secret" / "input.json")

    proc = run_cli("comment", "--forge", "github", "--from", source, "--pr", "1", env=env)

    assert proc.returncode == 0, proc.stderr
    [posted] = api.comments_on(REPO, 1)
    assert outputs(proc.stdout)["comment-urls"] == posted["html_url"]
    encoded = base64.b64encode(PLAINTEXT.encode()).decode()
    for text in (proc.stdout, proc.stderr, posted["body"]):
        assert token not in text and PLAINTEXT not in text and encoded not in text


def test_missing_pull_request_number_is_a_usage_error(tmp_path: Path) -> None:
    proc = run_cli("comment", "--from", str(DATA / "image-bump" / "input.json"), "--forge", "local")
    assert proc.returncode == EXIT_USAGE
    assert "no pull request" in proc.stderr and "--pr" in proc.stderr


def test_bad_diff_document_names_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "diff.json"
    bad.write_text(json.dumps({"version": 1, "apps": [{"name": "a", "changes": [{}]}]}))
    proc = run_cli("comment", "--from", str(bad), "--dry-run")
    assert proc.returncode == EXIT_USAGE
    assert f"{bad}: diff document: apps[0].changes[0].action" in proc.stderr


# -- the fork-safe flow: a workflow_run job with the number from the artifact ------------------
def workflow_run_env(api: GitHubApi, token: str, tmp_path: Path, head: str) -> dict[str, str]:
    event = tmp_path / "event.json"
    run = {"head_sha": head, "run_number": 42, "event": "pull_request", "pull_requests": []}
    event.write_text(json.dumps({"action": "completed", "workflow_run": run}))
    return base_env(
        GITHUB_ACTIONS="true",
        GITHUB_EVENT_NAME="workflow_run",
        GITHUB_EVENT_PATH=str(event),
        GITHUB_REPOSITORY=REPO,
        GITHUB_RUN_NUMBER="7",
        GITHUB_OUTPUT=str(tmp_path / "output"),
        GITHUB_API_URL=api.url,
        GITHUB_TOKEN=token,
    )


def test_workflow_run_comments_with_the_triggering_runs_number(
    api: GitHubApi, token: str, tmp_path: Path
) -> None:
    api.set_head(REPO, 1, HEAD)
    env = workflow_run_env(api, token, tmp_path, HEAD)

    proc = run_cli(
        "comment", "--from", str(DATA / "image-bump" / "input.json"), "--pr", "1", env=env
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    [posted] = api.comments_on(REPO, 1)
    assert f"<!-- gitops-actions:head:{HEAD} --><!-- gitops-actions:run:42 -->" in posted["body"]
    assert "changed=true" in (tmp_path / "output").read_text()


def test_workflow_run_refuses_a_pull_request_at_another_commit(
    api: GitHubApi, token: str, tmp_path: Path
) -> None:
    api.set_head(REPO, 1, "f" * 40)
    env = workflow_run_env(api, token, tmp_path, HEAD)

    proc = run_cli(
        "comment", "--from", str(DATA / "image-bump" / "input.json"), "--pr", "1", env=env
    )

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "not commenting" in proc.stdout
    assert api.comments_on(REPO, 1) == []


def test_a_forge_that_never_answers_ends_at_the_timeout(token: str) -> None:
    source = str(DATA / "image-bump" / "input.json")
    args = ("--forge", "github", "--pr", "1", "--project", REPO, "--run-number", "1")
    with hung_server() as url:
        start = time.monotonic()
        proc = run_cli(
            "comment", "--from", source, *args, "--forge-url", url, "--timeout", "2",
            env=base_env(GITHUB_TOKEN=token),
        )  # fmt: skip
        seconds = time.monotonic() - start
    assert proc.returncode == EXIT_EXTERNAL, proc.stderr
    assert seconds < 15, seconds
    assert token not in proc.stdout + proc.stderr


def test_a_timeout_that_is_no_number_of_seconds_is_refused(tmp_path: Path) -> None:
    source = str(DATA / "image-bump" / "input.json")
    proc = run_cli("comment", "--from", source, "--forge", "local", "--pr", "1",
                   "--forge-dir", str(tmp_path / "forge"), "--timeout", "0")  # fmt: skip
    assert proc.returncode == EXIT_USAGE
    assert "--timeout 0" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "forge").exists()
