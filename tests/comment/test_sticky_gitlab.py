"""Sticky notes on GitLab merge requests: python-gitlab against the loopback GitLab API."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
from test_sticky_github import parts

from gitops_actions.comment import sticky
from gitops_actions.errors import ExternalError, UsageError
from gitops_actions.forge import Forge, HttpOptions, make_forge

from fakes.gitlab_api import GitLabApi

PROJECT = "platform/deploy/config"
FAST = HttpOptions(timeout=5, budget=5)


@pytest.fixture
def token() -> str:
    return "glpat-" + secrets.token_hex(12)


@pytest.fixture
def api(token: str) -> Iterator[GitLabApi]:
    with GitLabApi(token, job_tokens=["glcbt-job"]) as server:
        server.add_project(PROJECT)
        server.add_mr(PROJECT, "bump/shop")
        yield server


@pytest.fixture
def forge(api: GitLabApi, token: str) -> Forge:
    return make_forge("gitlab", {"GITLAB_TOKEN": token}, url=api.url, http=FAST)


def publish(forge: Forge, texts: list[str], **kwargs: object) -> sticky.Outcome:
    options = {"project": PROJECT, "number": 1, "target": "config", "run": 1} | kwargs
    return sticky.publish(forge, parts=texts, **options)  # type: ignore[arg-type]


def writes(api: GitLabApi) -> list[str]:
    return [r.method for r in api.log if r.method in ("POST", "PUT", "DELETE")]


def bodies(api: GitLabApi) -> list[str]:
    return [n["body"] for n in sorted(api.notes_on(PROJECT, 1), key=lambda n: n["id"])]


def test_create_rerun_update_and_shrink(api: GitLabApi, forge: Forge) -> None:
    created = publish(forge, parts("one\n", "two\n", "three\n"))
    assert writes(api) == ["POST"] * 3
    assert created.comments[0].url.startswith(f"{api.url}/{PROJECT}/-/merge_requests/1#note_")

    again = publish(forge, parts("one\n", "two\n", "three\n"))
    assert writes(api) == ["POST"] * 3 and not again.changed

    shrunk = publish(forge, parts("only\n", run=2), run=2)
    assert writes(api)[3:] == ["PUT", "DELETE", "DELETE"]
    assert bodies(api) == parts("only\n", run=2)
    assert shrunk.comments[0].id == created.comments[0].id


def test_an_older_pipeline_never_overwrites_a_newer_one(api: GitLabApi, forge: Forge) -> None:
    publish(forge, parts("pipeline 12\n", run=12), run=12)

    late = publish(forge, parts("pipeline 11\n", run=11), run=11)

    assert late.plan.blocked and writes(api) == ["POST"]
    assert "pipeline 12" in bodies(api)[0]


def test_minimise_empties_the_leftover_note(api: GitLabApi, forge: Forge) -> None:
    publish(forge, parts("one\n", "two\n"))

    publish(forge, parts("one\n"), leftovers="minimize")

    assert bodies(api)[1].startswith("<!-- gitops-actions:stale:config -->")
    assert len(api.notes_on(PROJECT, 1)) == 2


def test_our_note_is_found_among_more_than_a_hundred(api: GitLabApi, forge: Forge) -> None:
    publish(forge, parts("one\n"))
    for n in range(130):
        api.add_note(PROJECT, 1, f"remark {n}", system=n % 10 == 0)

    outcome = publish(forge, parts("two\n", run=2), run=2)

    assert len(outcome.plan.update) == 1 and not outcome.plan.create
    assert sum("gitops-actions" in b for b in bodies(api)) == 1
    pages = [r.query.get("page", "1") for r in api.requests("GET", "/merge_requests/1/notes")]
    assert pages[-2:] == ["1", "2"]


def test_throttling_and_server_errors_are_retried(api: GitLabApi, forge: Forge) -> None:
    api.rate_limit(count=1, retry_after=1)
    api.fail_next(502, count=1, method="POST")
    start = time.monotonic()

    publish(forge, parts("one\n"))

    assert time.monotonic() - start >= 1
    assert len(bodies(api)) == 1


def test_a_job_token_cannot_write_notes(api: GitLabApi) -> None:
    forge = make_forge("gitlab", {"CI_JOB_TOKEN": "glcbt-job"}, url=api.url, http=FAST)

    with pytest.raises(UsageError, match="CI_JOB_TOKEN") as caught:
        publish(forge, parts("one\n"))
    assert "GITLAB_TOKEN" in caught.value.one_line()
    assert api.log == []


def test_token_never_reaches_an_error(api: GitLabApi, forge: Forge, token: str) -> None:
    api.fail_next(500, count=1000)  # more than fit in the budget
    with pytest.raises(ExternalError) as caught:
        publish(forge, parts("one\n"))
    assert token not in caught.value.one_line() and "HTTP 500" in caught.value.one_line()
