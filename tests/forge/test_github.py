"""The GitHub forge, driven through PyGithub against a loopback GitHub API."""

from __future__ import annotations

import logging
import secrets
import socket
import time

import pytest

from gitops_actions.errors import EXIT_EXTERNAL, ExternalError, UsageError
from gitops_actions.forge import Forge, HttpOptions, PullRequest, make_forge
from gitops_actions.secrets import REDACTOR

from fakes.github_api import GitHubApi
from support import GITHUB_PROJECT

REPO = GITHUB_PROJECT
FAST = HttpOptions(timeout=5, budget=5, write_interval=0)


@pytest.fixture
def token(github_token: str) -> str:
    return github_token


@pytest.fixture
def api(github_api: GitHubApi) -> GitHubApi:
    return github_api


@pytest.fixture
def forge(api: GitHubApi, token: str) -> Forge:
    return make_forge("github", {"GITHUB_TOKEN": token}, url=api.url, http=FAST)


def upsert(
    forge: Forge, *, head: str = "bump/shop", base: str = "main", **text: str
) -> PullRequest:
    fields = {"title": "Bump shop to 1.2.3", "body": "Image digest sha256:abc"} | text
    return forge.upsert_pull_request(project=REPO, head=head, base=base, **fields)


def test_opens_then_updates_the_same_pull_request(api: GitHubApi, forge: Forge) -> None:
    first = upsert(forge)
    second = upsert(forge, title="Bump shop to 1.2.4", body="Image digest sha256:def")

    assert first == PullRequest(number=1, url=f"{api.url}/{REPO}/pull/1", created=True)
    assert second == PullRequest(number=1, url=first.url, created=False)
    [pull] = api.pulls_in(REPO)
    assert (pull["title"], pull["body"], pull["state"]) == (
        "Bump shop to 1.2.4",
        "Image digest sha256:def",
        "open",
    )
    assert (pull["head"]["label"], pull["base"]["ref"]) == ("acme:bump/shop", "main")


def test_unchanged_pull_request_is_not_edited(api: GitHubApi, forge: Forge) -> None:
    upsert(forge)
    again = upsert(forge)

    assert again.created is False
    assert api.requests("PATCH") == []
    assert len(api.requests("POST")) == 1


def test_another_base_branch_gets_its_own_pull_request(api: GitHubApi, forge: Forge) -> None:
    main = upsert(forge, base="main")
    staging = upsert(forge, base="staging")
    main_again = upsert(forge, base="main", title="Bump shop to 1.2.4")

    assert (main.number, staging.number, main_again.number) == (1, 2, 1)
    assert staging.created is True and main_again.created is False
    assert len(api.pulls_in(REPO, state="open")) == 2


def test_closed_pull_request_is_not_reused(api: GitHubApi, forge: Forge) -> None:
    upsert(forge)
    api.close_pull(REPO, 1)

    fresh = upsert(forge)

    assert (fresh.number, fresh.created) == (2, True)
    assert [p["state"] for p in api.pulls_in(REPO)] == ["closed", "open"]


def test_create_retried_after_a_lost_reply_opens_only_one(api: GitHubApi, forge: Forge) -> None:
    api.lose_next_reply(502, method="POST")

    result = upsert(forge)

    assert (result.number, result.created) == (1, False)
    assert len(api.pulls_in(REPO)) == 1
    assert len(api.requests("POST")) == 1  # the retry found it open: no second create


def test_server_errors_are_retried(api: GitHubApi, forge: Forge) -> None:
    api.fail_next(502, count=2)

    assert upsert(forge).created is True
    assert len(api.requests("GET", f"/repos/{REPO}")) == 3


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_waits_for_retry_after(api: GitHubApi, forge: Forge, status: int) -> None:
    api.rate_limit(status, count=1, retry_after=1)
    start = time.monotonic()

    assert upsert(forge).created is True
    assert time.monotonic() - start >= 1
    assert len(api.pulls_in(REPO)) == 1


def test_gives_up_at_the_deadline_with_an_external_error(
    api: GitHubApi, forge: Forge, token: str
) -> None:
    api.fail_next(502, count=1000)
    quick = HttpOptions(timeout=5, budget=2, write_interval=0)
    forge = make_forge("github", {"GITHUB_TOKEN": token}, url=api.url, http=quick)

    with pytest.raises(ExternalError) as caught:
        upsert(forge)

    error = caught.value
    assert error.exit_code == EXIT_EXTERNAL and error.transient
    assert "HTTP 502" in error.one_line() and "\n" not in error.one_line()
    assert token not in error.one_line()
    assert 1 < len(api.log) < 1000  # retried until the budget ran out


def test_wrong_token_is_a_permanent_external_error(api: GitHubApi) -> None:
    wrong = "ghp_" + secrets.token_hex(16)
    forge = make_forge("github", {"GITHUB_TOKEN": wrong}, url=api.url, http=FAST)

    with pytest.raises(ExternalError) as caught:
        upsert(forge)

    assert not caught.value.transient
    assert "HTTP 401" in caught.value.one_line() and "GITHUB_TOKEN" in caught.value.one_line()
    assert wrong not in caught.value.one_line()


def test_unreachable_api_is_a_transient_external_error(token: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}"
    forge = make_forge("github", {"GITHUB_TOKEN": token}, url=url, http=FAST)

    with pytest.raises(ExternalError, match="cannot reach") as caught:
        upsert(forge)
    assert caught.value.transient and url in caught.value.one_line()


def test_unknown_repository_is_reported(api: GitHubApi, forge: Forge) -> None:
    with pytest.raises(ExternalError, match="HTTP 404") as caught:
        forge.upsert_pull_request(project="acme/nope", head="b", base="main", title="t", body="")
    assert not caught.value.transient


def test_project_must_be_owner_and_name(forge: Forge) -> None:
    with pytest.raises(UsageError, match="owner/name"):
        forge.upsert_pull_request(project="config", head="b", base="main", title="t", body="")


def test_missing_token_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        make_forge("github", {"GITHUB_API_URL": "http://127.0.0.1:9"})
    assert "GITHUB_TOKEN" in caught.value.one_line() and "GH_TOKEN" in caught.value.one_line()


def test_gh_token_and_api_url_come_from_the_environment(api: GitHubApi, token: str) -> None:
    forge = make_forge("github", {"GH_TOKEN": token, "GITHUB_API_URL": api.url}, http=FAST)

    assert upsert(forge).created is True
    assert api.log[0].headers["authorization"] == f"token {token}"


def test_token_never_reaches_the_output(
    api: GitHubApi,
    token: str,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    forge = make_forge("github", {"GITHUB_TOKEN": token}, url=api.url, http=FAST)
    assert token in REDACTOR.known()
    upsert(forge)
    upsert(forge, title="changed")
    api.fail_next(500, count=1000)  # more than fit in the budget
    with pytest.raises(ExternalError) as caught:
        upsert(forge, title="changed again")

    out, err = capfd.readouterr()
    assert token not in out + err + caplog.text + caught.value.one_line()
    assert token not in repr(caught.value.__cause__)


def test_a_server_that_is_not_the_github_api_is_an_external_error(token: str) -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Html(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"<html>please log in</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Html)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        forge = make_forge(
            "github",
            {"GITHUB_TOKEN": token},
            url=f"http://127.0.0.1:{server.server_address[1]}",
            http=FAST,
        )
        with pytest.raises(ExternalError, match="did not answer like the GitHub API"):
            forge.upsert_pull_request(project=REPO, head="h", base="main", title="t", body="b")
    finally:
        server.shutdown()
        server.server_close()
