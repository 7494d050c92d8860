"""The loopback forge APIs speak enough of the real ones for the real clients: comments,
notes and pagination past one page."""

from __future__ import annotations

from collections.abc import Iterator

import github
import gitlab
import pytest

from fakes.github_api import GitHubApi
from fakes.gitlab_api import GitLabApi

TOKEN = "tok_" + "f" * 24


def hub_client(url: str, per_page: int = 30) -> github.Github:
    return github.Github(
        base_url=url,
        auth=github.Auth.Token(TOKEN),
        per_page=per_page,
        seconds_between_requests=None,
        seconds_between_writes=None,
    )


@pytest.fixture
def hub() -> Iterator[GitHubApi]:
    with GitHubApi(TOKEN) as server:
        server.add_repo("acme/config")
        yield server


@pytest.fixture
def lab() -> Iterator[GitLabApi]:
    with GitLabApi(TOKEN) as server:
        server.add_project("platform/config")
        yield server


def test_github_issue_comments_page_edit_and_delete(hub: GitHubApi) -> None:
    client = hub_client(hub.url, per_page=100)
    pull = client.get_repo("acme/config").create_pull(base="main", head="b", title="t", body="")
    for n in range(150):
        pull.create_issue_comment(f"comment {n}")

    comments = list(pull.get_issue_comments())
    assert [c.body for c in comments] == [f"comment {n}" for n in range(150)]
    comments[0].edit("edited")
    comments[1].delete()

    pages = [r.query.get("page", "1") for r in hub.requests("GET", "/issues/1/comments")]
    assert pages == ["1", "2"]
    remaining = hub.comments_on("acme/config", 1)
    assert len(remaining) == 149 and remaining[0]["body"] == "edited"


def test_github_default_page_size_follows_link_headers(hub: GitHubApi) -> None:
    client = hub_client(hub.url)
    repo = client.get_repo("acme/config")
    for n in range(65):
        repo.create_pull(base="main", head=f"b{n}", title=f"t{n}", body="")

    numbers = [p.number for p in repo.get_pulls(state="all")]

    assert numbers == list(range(65, 0, -1))
    assert len(hub.requests("GET", "/pulls")) == 3


def test_gitlab_notes_page_update_and_delete(lab: GitLabApi) -> None:
    client = gitlab.Gitlab(lab.url, private_token=TOKEN)
    project = client.projects.get("platform/config")
    mr = project.mergerequests.create({"source_branch": "b", "target_branch": "main", "title": "t"})
    for n in range(130):
        mr.notes.create({"body": f"note {n}"})

    notes = mr.notes.list(get_all=True, per_page=100, sort="asc")
    first = mr.notes.get(notes[0].id)
    first.body = "edited"
    first.save()
    mr.notes.delete(notes[1].id)

    assert [n.body for n in notes] == [f"note {n}" for n in range(130)]
    assert len(lab.requests("GET", "/merge_requests/1/notes")) == 2
    remaining = sorted(lab.notes_on("platform/config", 1), key=lambda n: int(n["id"]))
    assert len(remaining) == 129 and remaining[0]["body"] == "edited"


def test_gitlab_iterator_follows_next_links(lab: GitLabApi) -> None:
    client = gitlab.Gitlab(lab.url, private_token=TOKEN)
    project = client.projects.get("platform/config")
    for n in range(45):
        project.mergerequests.create(
            {"source_branch": f"b{n}", "target_branch": "main", "title": f"t{n}"}
        )

    found = [m.iid for m in project.mergerequests.list(iterator=True, state="opened")]

    assert found == list(range(45, 0, -1))
    assert len(lab.requests("GET", "/merge_requests")) == 3


def test_requests_without_a_token_are_refused(hub: GitHubApi, lab: GitLabApi) -> None:
    with pytest.raises(github.BadCredentialsException):
        github.Github(base_url=hub.url, retry=None).get_repo("acme/config")
    with pytest.raises(gitlab.GitlabAuthenticationError):
        gitlab.Gitlab(lab.url).projects.get("platform/config")
