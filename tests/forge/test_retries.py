"""Forge calls retry through ``retry.call`` only: transient failures until the deadline,
after the wait the forge asks for; never 401/403/404/422; never a create twice.

Driven through the real PyGithub and python-gitlab clients (their own retries off)
against the loopback stand-ins.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from gitops_actions.errors import EXIT_EXTERNAL, ExternalError
from gitops_actions.forge import Forge, HttpOptions, asked_wait, make_forge
from gitops_actions.retry import Deadline

from fakes import FakeApi
from fakes.github_api import GitHubApi
from fakes.gitlab_api import GitLabApi
from support import GITHUB_PROJECT, hung_server

GITLAB_PROJECT = "platform/config"
FAST = HttpOptions(timeout=5, budget=20, write_interval=0)


@dataclass
class Side:
    """One forge and its stand-in, with a pull (merge) request open as number 1."""

    name: str
    api: Any  # GitHubApi | GitLabApi
    token: str
    project: str

    def forge(self, http: HttpOptions = FAST, deadline: Deadline | None = None) -> Forge:
        variable = "GITHUB_TOKEN" if self.name == "github" else "GITLAB_TOKEN"
        env = {variable: self.token}
        return make_forge(self.name, env, url=self.api.url, http=http, deadline=deadline)

    def comments(self) -> list[dict[str, Any]]:
        if self.name == "github":
            return list(self.api.comments_on(self.project, 1))
        return list(self.api.notes_on(self.project, 1))

    def upsert(self, forge: Forge) -> Any:
        return forge.upsert_pull_request(
            project=self.project, head="bump/shop", base="main", title="Bump", body="b"
        )

    def pulls(self) -> list[dict[str, Any]]:
        """The pull (merge) requests ``upsert`` opened."""
        if self.name == "github":
            return [p for p in self.api.pulls_in(self.project) if p["head"]["ref"] == "bump/shop"]
        return [m for m in self.api.mrs_in(self.project) if m["source_branch"] == "bump/shop"]

    def posts(self) -> int:
        """Requests that post a comment (note)."""
        return len(self.api.requests("POST", "/comments" if self.name == "github" else "/notes"))


@pytest.fixture(params=["github", "gitlab"])
def side(request: pytest.FixtureRequest) -> Iterator[Side]:
    if request.param == "github":
        token = "ghp_" + secrets.token_hex(16)
        with GitHubApi(token) as github:
            github.add_repo(GITHUB_PROJECT)
            github.add_pull(GITHUB_PROJECT, "feature")
            yield Side("github", github, token, GITHUB_PROJECT)
    else:
        token = "glpat-" + secrets.token_hex(12)
        with GitLabApi(token) as gitlab:
            gitlab.add_project(GITLAB_PROJECT)
            gitlab.add_mr(GITLAB_PROJECT, "feature")
            yield Side("gitlab", gitlab, token, GITLAB_PROJECT)


def test_two_bad_gateways_then_success(side: Side) -> None:
    side.api.fail_next(502, count=2)

    assert side.upsert(side.forge()).created is True
    assert len(side.pulls()) == 1
    assert len(side.api.log) >= 3


def test_too_many_requests_waits_as_retry_after_says(side: Side) -> None:
    side.api.fail_next(429, count=1, headers={"Retry-After": "2"})
    start = time.monotonic()

    assert side.upsert(side.forge()).created is True
    assert time.monotonic() - start >= 2
    assert len(side.pulls()) == 1


def test_a_wait_beyond_the_deadline_gives_up_at_once(side: Side) -> None:
    side.api.fail_next(429, count=1, headers={"Retry-After": "3600"})
    start = time.monotonic()

    with pytest.raises(ExternalError) as caught:
        side.upsert(side.forge(deadline=Deadline.after(30)))

    assert time.monotonic() - start < 5
    assert "HTTP 429" in caught.value.one_line() and "3600s" in caught.value.one_line()
    assert len(side.api.log) == 1 and side.pulls() == []


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_permanent_failures_are_not_retried(side: Side, status: int) -> None:
    side.api.fail_next(status, count=1, body={"message": "no"})

    with pytest.raises(ExternalError) as caught:
        side.upsert(side.forge())

    assert caught.value.exit_code == EXIT_EXTERNAL and not caught.value.transient
    assert len(side.api.log) == 1
    assert side.token not in caught.value.one_line()


def test_server_errors_until_the_deadline_end_in_the_last_error(side: Side) -> None:
    side.api.fail_next(503, count=1000)
    start = time.monotonic()

    with pytest.raises(ExternalError) as caught:
        side.upsert(side.forge(deadline=Deadline.after(3)))

    assert time.monotonic() - start < 4.5
    assert caught.value.transient and "HTTP 503" in caught.value.one_line()
    assert 1 < len(side.api.log) < 1000


def test_a_server_that_never_answers_ends_at_the_deadline(side: Side) -> None:
    with hung_server() as url:
        side.api = FakeApi.__new__(FakeApi)  # only its url is used below
        forge = make_forge(
            side.name,
            {"GITHUB_TOKEN" if side.name == "github" else "GITLAB_TOKEN": side.token},
            url=url,
            http=HttpOptions(timeout=30, budget=300, write_interval=0),
            deadline=Deadline.after(2),
        )
        start = time.monotonic()
        with pytest.raises(ExternalError) as caught:
            side.upsert(forge)
        seconds = time.monotonic() - start

    assert seconds < 4, seconds
    assert caught.value.exit_code == EXIT_EXTERNAL


def test_a_comment_whose_reply_was_lost_is_posted_once(side: Side) -> None:
    forge = side.forge()
    side.api.lose_next_reply(502, method="POST")

    comment = forge.create_comment(project=side.project, number=1, body="hello", key="k")

    [posted] = side.comments()
    assert str(posted["id"]) == comment.id and posted["body"] == "hello"
    assert side.posts() == 1


def test_a_comment_refused_with_a_bad_gateway_is_posted_on_a_retry(side: Side) -> None:
    forge = side.forge()
    side.api.fail_next(502, count=1, method="POST")  # refused before it was made

    forge.create_comment(project=side.project, number=1, body="hello", key="k")

    assert [c["body"] for c in side.comments()] == ["hello"]
    assert side.posts() == 2


def test_a_deployment_is_not_created_twice(side: Side) -> None:
    forge = side.forge()
    sha = "a" * 40
    side.api.lose_next_reply(502, method="POST")

    with pytest.raises(ExternalError, match="HTTP 502"):
        forge.create_deployment(  # type: ignore[attr-defined]
            project=side.project, environment="prod", sha=sha, ref="main", description="d"
        )
    assert len(side.api.requests("POST")) == 1  # it may exist: reported, not repeated

    side.api.fail_next(429, count=1, method="POST", headers={"Retry-After": "1"})
    made = forge.create_deployment(  # type: ignore[attr-defined]
        project=side.project, environment="prod", sha=sha, ref="main", description="d"
    )
    assert made.id and len(side.api.requests("POST")) == 3  # a rate limit: not made, retried


def test_asked_wait_reads_retry_after_and_rate_limit_resets() -> None:
    assert asked_wait({"Retry-After": "7"}) == 7.0
    assert asked_wait({"x-ratelimit-remaining": "0", "X-RateLimit-Reset": "1060"}, now=1000) == 60
    assert asked_wait({"RateLimit-Remaining": "0", "RateLimit-Reset": "1005"}, now=1000) == 5
    assert asked_wait({"X-RateLimit-Remaining": "10", "X-RateLimit-Reset": "1060"}) is None
    # an HTTP date (RFC 9110): the seconds from now until then; one in the past is no wait
    assert asked_wait({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470) == 10
    assert asked_wait({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412490) == 0
    assert asked_wait({"Retry-After": "Wed, 99 Foo 2015 07:28:00 GMT"}) is None
    assert asked_wait({"Retry-After": "1e999"}) is None or asked_wait({"Retry-After": "1e999"})


_: Callable[..., Any] = asked_wait
