"""The GitLab forge, driven through python-gitlab against a loopback GitLab API."""

from __future__ import annotations

import logging
import secrets
import socket
import time
from collections.abc import Iterator

import pytest

from gitops_actions.errors import EXIT_EXTERNAL, ExternalError, UsageError
from gitops_actions.forge import Forge, HttpOptions, PullRequest, make_forge
from gitops_actions.secrets import REDACTOR

from fakes.gitlab_api import GitLabApi

PROJECT = "platform/deploy/config"
FAST = HttpOptions(timeout=5, budget=5)


@pytest.fixture
def token() -> str:
    return "glpat-" + secrets.token_hex(12)


@pytest.fixture
def job_token() -> str:
    return "glcbt-" + secrets.token_hex(12)


@pytest.fixture
def api(token: str, job_token: str) -> Iterator[GitLabApi]:
    with GitLabApi(token, job_tokens=[job_token]) as server:
        server.add_project(PROJECT)
        yield server


@pytest.fixture
def forge(api: GitLabApi, token: str) -> Forge:
    return make_forge("gitlab", {"GITLAB_TOKEN": token}, url=api.url, http=FAST)


def upsert(
    forge: Forge, *, head: str = "bump/shop", base: str = "main", **text: str
) -> PullRequest:
    fields = {"title": "Bump shop to 1.2.3", "body": "Image digest sha256:abc"} | text
    return forge.upsert_pull_request(project=PROJECT, head=head, base=base, **fields)


def test_opens_then_updates_the_same_merge_request(api: GitLabApi, forge: Forge) -> None:
    first = upsert(forge)
    second = upsert(forge, title="Bump shop to 1.2.4", body="Image digest sha256:def")

    url = f"{api.url}/{PROJECT}/-/merge_requests/1"
    assert first == PullRequest(number=1, url=url, created=True)
    assert second == PullRequest(number=1, url=url, created=False)
    [mr] = api.mrs_in(PROJECT)
    assert (mr["title"], mr["description"], mr["state"]) == (
        "Bump shop to 1.2.4",
        "Image digest sha256:def",
        "opened",
    )
    assert (mr["source_branch"], mr["target_branch"]) == ("bump/shop", "main")


def test_unchanged_merge_request_is_not_saved(api: GitLabApi, forge: Forge) -> None:
    upsert(forge)
    again = upsert(forge)

    assert again.created is False
    assert api.requests("PUT") == []
    assert len(api.requests("POST")) == 1


def test_another_target_branch_gets_its_own_merge_request(api: GitLabApi, forge: Forge) -> None:
    main = upsert(forge, base="main")
    staging = upsert(forge, base="staging")
    main_again = upsert(forge, base="main", title="Bump shop to 1.2.4")

    assert (main.number, staging.number, main_again.number) == (1, 2, 1)
    assert staging.created is True and main_again.created is False
    assert len(api.mrs_in(PROJECT, state="opened")) == 2


def test_closed_merge_request_is_not_reused(api: GitLabApi, forge: Forge) -> None:
    upsert(forge)
    api.close_mr(PROJECT, 1)

    fresh = upsert(forge)

    assert (fresh.number, fresh.created) == (2, True)
    assert sorted(m["state"] for m in api.mrs_in(PROJECT)) == ["closed", "opened"]


def test_create_retried_after_a_lost_reply_opens_only_one(api: GitLabApi, forge: Forge) -> None:
    api.lose_next_reply(502, method="POST")

    result = upsert(forge)

    assert (result.number, result.created) == (1, False)
    assert len(api.mrs_in(PROJECT)) == 1
    assert len(api.requests("POST")) == 1  # the retry found it open: no second create


def test_server_errors_are_retried(api: GitLabApi, forge: Forge) -> None:
    api.fail_next(502, count=2)

    assert upsert(forge).created is True
    assert len(api.requests("GET", "/projects/platform%2Fdeploy%2Fconfig")) == 3


def test_rate_limit_waits_for_retry_after(api: GitLabApi, forge: Forge) -> None:
    api.rate_limit(count=1, retry_after=1)
    start = time.monotonic()

    assert upsert(forge).created is True
    assert time.monotonic() - start >= 1
    assert len(api.mrs_in(PROJECT)) == 1


def test_gives_up_at_the_deadline_with_an_external_error(
    api: GitLabApi, forge: Forge, token: str
) -> None:
    api.fail_next(503, count=1000)
    quick = HttpOptions(timeout=5, budget=2, write_interval=0)
    forge = make_forge("gitlab", {"GITLAB_TOKEN": token}, url=api.url, http=quick)

    with pytest.raises(ExternalError) as caught:
        upsert(forge)

    error = caught.value
    assert error.exit_code == EXIT_EXTERNAL and error.transient
    assert "HTTP 503" in error.one_line() and "\n" not in error.one_line()
    assert token not in error.one_line()
    assert 1 < len(api.log) < 1000  # retried until the budget ran out


def test_wrong_token_is_a_permanent_external_error(api: GitLabApi) -> None:
    wrong = "glpat-" + secrets.token_hex(12)
    forge = make_forge("gitlab", {"GITLAB_TOKEN": wrong}, url=api.url, http=FAST)

    with pytest.raises(ExternalError) as caught:
        upsert(forge)

    assert not caught.value.transient
    assert "HTTP 401" in caught.value.one_line() and "GITLAB_TOKEN" in caught.value.one_line()
    assert wrong not in caught.value.one_line()


def test_unreachable_api_is_a_transient_external_error(token: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    forge = make_forge("gitlab", {"GITLAB_TOKEN": token}, url=url, http=FAST)

    with pytest.raises(ExternalError, match="cannot reach") as caught:
        upsert(forge)
    assert caught.value.transient and url in caught.value.one_line()


def test_unknown_project_is_reported(api: GitLabApi, forge: Forge) -> None:
    with pytest.raises(ExternalError, match="HTTP 404") as caught:
        forge.upsert_pull_request(
            project="platform/nope", head="b", base="main", title="t", body=""
        )
    assert not caught.value.transient


def test_job_token_is_sent_as_job_token(api: GitLabApi, job_token: str) -> None:
    env = {"CI_JOB_TOKEN": job_token, "CI_SERVER_URL": api.url}
    forge = make_forge("gitlab", env, http=FAST)

    assert upsert(forge).created is True
    assert all(r.headers.get("job-token") == job_token for r in api.log)
    assert not any("private-token" in r.headers for r in api.log)


def test_gitlab_token_wins_over_the_job_token(api: GitLabApi, token: str, job_token: str) -> None:
    env = {"GITLAB_TOKEN": token, "CI_JOB_TOKEN": job_token}
    forge = make_forge("gitlab", env, url=api.url, http=FAST)

    upsert(forge)

    assert api.log[0].headers.get("private-token") == token


def test_missing_token_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        make_forge("gitlab", {"CI_SERVER_URL": "http://127.0.0.1:9"})
    assert "GITLAB_TOKEN" in caught.value.one_line() and "CI_JOB_TOKEN" in caught.value.one_line()


def test_token_never_reaches_the_output(
    api: GitLabApi,
    token: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    forge = make_forge("gitlab", {"GITLAB_TOKEN": token}, url=api.url, http=FAST)
    assert token in REDACTOR.known()
    upsert(forge)
    upsert(forge, title="changed")
    api.fail_next(500, count=1000)  # more than fit in the budget
    with pytest.raises(ExternalError) as caught:
        upsert(forge, title="changed again")

    out, err = capfd.readouterr()
    assert token not in out + err + caplog.text + caught.value.one_line()
    assert token not in repr(caught.value.__cause__)
