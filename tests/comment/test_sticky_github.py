"""Sticky comments on GitHub: PyGithub against the loopback GitHub API."""

from __future__ import annotations

import logging
import time

import pytest

from gitops_actions.comment import markers, sticky
from gitops_actions.errors import ExternalError
from gitops_actions.forge import Forge, HttpOptions, make_forge

from fakes.github_api import GitHubApi
from support import GITHUB_PROJECT

REPO = GITHUB_PROJECT
FAST = HttpOptions(timeout=5, budget=5, write_interval=0)
TARGET = "config"


@pytest.fixture
def token(github_token: str) -> str:
    return github_token


@pytest.fixture
def api(github_api: GitHubApi) -> GitHubApi:
    github_api.add_pull(REPO, "bump/shop")
    return github_api


@pytest.fixture
def forge(api: GitHubApi, token: str) -> Forge:
    return make_forge("github", {"GITHUB_TOKEN": token}, url=api.url, http=FAST)


def parts(*texts: str, run: int | None = 1, target: str = TARGET) -> list[str]:
    """Comment parts as the comment step stamps them."""
    count = len(texts)
    return [
        markers.header(target, markers.Stamp("c0ffee" * 6 + "abcd", run, n, count)) + text
        for n, text in enumerate(texts, 1)
    ]


def publish(forge: Forge, texts: list[str], **kwargs: object) -> sticky.Outcome:
    options = {"project": REPO, "number": 1, "target": TARGET, "run": 1} | kwargs
    return sticky.publish(forge, parts=texts, **options)  # type: ignore[arg-type]


def writes(api: GitHubApi) -> list[str]:
    return [f"{r.method} {r.path}" for r in api.log if r.method in ("POST", "PATCH", "DELETE")]


def bodies(api: GitHubApi) -> list[str]:
    return [c["body"] for c in api.comments_on(REPO, 1)]


def test_first_run_creates_the_comment(api: GitHubApi, forge: Forge) -> None:
    outcome = publish(forge, parts("diff v1\n"))

    [comment] = api.comments_on(REPO, 1)
    assert comment["body"].startswith("<!-- gitops-actions:diff:config -->\n")
    assert [c.url for c in outcome.comments] == [comment["html_url"]]
    assert outcome.changed and len(outcome.plan.create) == 1


def test_identical_rerun_writes_nothing(api: GitHubApi, forge: Forge) -> None:
    publish(forge, parts("diff v1\n", "more\n"))
    before = len(writes(api))

    outcome = publish(forge, parts("diff v1\n", "more\n"))

    assert writes(api)[before:] == []
    assert not outcome.changed and len(outcome.plan.keep) == 2
    assert len(outcome.comments) == 2


def test_changed_body_is_edited_in_place(api: GitHubApi, forge: Forge) -> None:
    first = publish(forge, parts("diff v1\n"))
    before = len(writes(api))

    second = publish(forge, parts("diff v2\n", run=2), run=2)

    [comment] = api.comments_on(REPO, 1)
    assert "diff v2" in comment["body"] and "<!-- gitops-actions:run:2 -->" in comment["body"]
    assert [w.split()[0] for w in writes(api)[before:]] == ["PATCH"]
    assert second.comments[0].id == first.comments[0].id == str(comment["id"])


def test_shrinking_from_three_parts_to_one_deletes_the_leftovers(
    api: GitHubApi, forge: Forge
) -> None:
    publish(forge, parts("one\n", "two\n", "three\n"))
    ids = [c["id"] for c in api.comments_on(REPO, 1)]

    outcome = publish(forge, parts("only\n"), run=2)

    [left] = api.comments_on(REPO, 1)
    assert left["id"] == ids[0] and "only" in left["body"]
    assert "part:" not in left["body"]
    assert [c.url for c in outcome.plan.leftovers] == [
        f"{api.url}/{REPO}/pull/1#issuecomment-{i}" for i in ids[1:]
    ]
    assert len(api.requests("DELETE")) == 2


def test_leftovers_can_be_minimised_instead(api: GitHubApi, forge: Forge) -> None:
    publish(forge, parts("one\n", "two\n", "three\n"))
    ids = [c["id"] for c in api.comments_on(REPO, 1)]

    publish(forge, parts("only\n"), run=2, leftovers="minimize")

    assert api.minimized == {ids[1]: "OUTDATED", ids[2]: "OUTDATED"}
    stale = bodies(api)[1:]
    assert all(b.startswith("<!-- gitops-actions:stale:config -->") for b in stale)
    minimise = [r for r in api.requests("POST", "/graphql") if "minimize" in str(r.body)]
    assert len(minimise) == 2

    # growing again posts new parts rather than reviving the hidden ones
    publish(forge, parts("one\n", "two\n"), run=3)
    assert len(api.comments_on(REPO, 1)) == 4
    assert "two" in bodies(api)[3]


def test_a_failed_minimise_leaves_the_emptied_part(api: GitHubApi, forge: Forge) -> None:
    publish(forge, parts("one\n", "two\n"))
    api.fail_next(403, count=1, method="POST", body={"message": "Resource not accessible"})
    logged: list[str] = []

    outcome = publish(forge, parts("one\n"), leftovers="minimize", log=logged.append)

    assert outcome.changed and api.minimized == {}
    assert bodies(api)[1].startswith("<!-- gitops-actions:stale:config -->")
    assert any("minimising it failed" in line and "HTTP 403" in line for line in logged)


def test_an_older_run_never_overwrites_a_newer_one(api: GitHubApi, forge: Forge) -> None:
    publish(forge, parts("from run 7\n", run=7), run=7)
    before = len(writes(api))

    late = publish(forge, parts("from run 6\n", run=6), run=6)

    assert writes(api)[before:] == []
    assert late.plan.blocked and "run 7" in late.plan.blocked and not late.changed
    assert "from run 7" in bodies(api)[0]

    publish(forge, parts("from run 8\n", run=8), run=8)
    assert "from run 8" in bodies(api)[0]


def test_our_comment_is_found_among_more_than_a_hundred(api: GitHubApi, forge: Forge) -> None:
    for n in range(120):
        api.add_comment(REPO, 1, f"looks good {n}")
    publish(forge, parts("diff v1\n"))
    for n in range(30):
        api.add_comment(REPO, 1, f"another remark {n}")

    outcome = publish(forge, parts("diff v2\n"), run=2)

    assert len(outcome.plan.update) == 1 and not outcome.plan.create
    assert sum("gitops-actions" in b for b in bodies(api)) == 1
    pages = [r.query.get("page", "1") for r in api.requests("GET", "/issues/1/comments")]
    assert pages[-2:] == ["1", "2"]


def test_other_targets_and_other_comments_are_left_alone(api: GitHubApi, forge: Forge) -> None:
    api.add_comment(REPO, 1, "<!-- gitops-actions:diff:config-staging -->\nstaging diff\n")
    api.add_comment(REPO, 1, "quoting <!-- gitops-actions:diff:config --> in passing\n")

    publish(forge, parts("one\n"))
    publish(forge, parts("two\n"), run=2)

    assert bodies(api)[:2] == [
        "<!-- gitops-actions:diff:config-staging -->\nstaging diff\n",
        "quoting <!-- gitops-actions:diff:config --> in passing\n",
    ]
    assert len(api.comments_on(REPO, 1)) == 3


def test_a_duplicated_part_is_cleaned_up(api: GitHubApi, forge: Forge) -> None:
    [body] = parts("one\n")
    api.add_comment(REPO, 1, body)
    api.add_comment(REPO, 1, body)

    outcome = publish(forge, parts("one\n"))

    assert len(outcome.plan.leftovers) == 1 and not outcome.plan.update
    assert len(api.comments_on(REPO, 1)) == 1


def test_server_errors_are_retried(api: GitHubApi, forge: Forge) -> None:
    forge.identity()  # asked once, then known
    api.fail_next(502, count=2, method="POST")
    api.fail_next(503, count=1, method="GET")

    publish(forge, parts("one\n"))

    assert len(api.comments_on(REPO, 1)) == 1
    assert len(api.requests("POST", "/comments")) == 3


@pytest.mark.parametrize(
    "message",
    [
        "API rate limit exceeded for user ID 1.",
        "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
    ],
)
def test_rate_limits_wait_for_retry_after(api: GitHubApi, forge: Forge, message: str) -> None:
    publish(forge, parts("one\n"))
    headers = {"Retry-After": "1", "X-RateLimit-Remaining": "0" if "API" in message else "10"}
    api.fail_next(403, method="PATCH", headers=headers, body={"message": message})
    start = time.monotonic()

    publish(forge, parts("two\n"), run=2)

    assert time.monotonic() - start >= 1
    assert "two" in bodies(api)[0]
    assert len(api.requests("PATCH")) == 2


def test_token_never_reaches_the_output(
    api: GitHubApi,
    forge: Forge,
    token: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    logged: list[str] = []
    publish(forge, parts("one\n"), log=logged.append)
    api.fail_next(500, count=1000)  # more than fit in the budget
    with pytest.raises(ExternalError) as caught:
        publish(forge, parts("two\n"), run=2, log=logged.append)

    out, err = capfd.readouterr()
    seen = out + err + caplog.text + caught.value.one_line() + "\n".join(logged)
    assert token not in seen and token not in "".join(bodies(api))
    assert "HTTP 500" in caught.value.one_line() and caught.value.transient
