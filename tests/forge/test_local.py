"""The local file forge, and choosing a forge by name."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gitops_actions.errors import InputError, UsageError
from gitops_actions.forge import FORGES, Forge, PullRequest, make_forge
from gitops_actions.forge.local import LocalForge

PROJECT = "acme/config"


@pytest.fixture
def forge(tmp_path: Path) -> Forge:
    return make_forge("local", {}, directory=str(tmp_path / "forge"))


def upsert(
    forge: Forge, *, head: str = "bump/shop", base: str = "main", **text: str
) -> PullRequest:
    fields = {"project": PROJECT, "title": "Bump shop to 1.2.3", "body": "sha256:abc"} | text
    return forge.upsert_pull_request(head=head, base=base, **fields)


def read(tmp_path: Path, number: int) -> dict[str, object]:
    data = json.loads((tmp_path / "forge" / "pulls" / f"{number}.json").read_text())
    assert isinstance(data, dict)
    return data


def test_opens_then_updates_the_same_pull_request(tmp_path: Path, forge: Forge) -> None:
    first = upsert(forge)
    second = upsert(forge, title="Bump shop to 1.2.4", body="sha256:def")

    path = (tmp_path / "forge" / "pulls" / "1.json").resolve()
    assert first == PullRequest(number=1, url=path.as_uri(), created=True)
    assert second == PullRequest(number=1, url=path.as_uri(), created=False)
    assert read(tmp_path, 1) == {
        "number": 1,
        "url": path.as_uri(),
        "project": PROJECT,
        "head": "bump/shop",
        "base": "main",
        "title": "Bump shop to 1.2.4",
        "body": "sha256:def",
        "state": "open",
    }
    assert [p.name for p in path.parent.iterdir() if not p.name.startswith(".")] == ["1.json"]
    assert not list(path.parent.glob("*.tmp"))


def test_unchanged_pull_request_is_not_rewritten(tmp_path: Path, forge: Forge) -> None:
    upsert(forge)
    before = (tmp_path / "forge" / "pulls" / "1.json").stat()

    assert upsert(forge).created is False
    assert (tmp_path / "forge" / "pulls" / "1.json").stat().st_ino == before.st_ino


def test_another_base_or_project_gets_its_own_pull_request(forge: Forge) -> None:
    main = upsert(forge)
    staging = upsert(forge, base="staging")
    other = upsert(forge, project="acme/other")

    assert [main.number, staging.number, other.number] == [1, 2, 3]
    assert upsert(forge, base="staging", title="again") == PullRequest(2, staging.url, False)


def test_closed_pull_request_is_not_reused(tmp_path: Path, forge: Forge) -> None:
    upsert(forge)
    path = tmp_path / "forge" / "pulls" / "1.json"
    path.write_text(json.dumps(read(tmp_path, 1) | {"state": "closed"}))

    fresh = upsert(forge)

    assert (fresh.number, fresh.created) == (2, True)
    assert read(tmp_path, 1)["state"] == "closed"


def test_concurrent_writers_never_share_a_number(tmp_path: Path, forge: Forge) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: upsert(forge, head=f"bump/{n}"), range(16)))

    assert sorted(r.number for r in results) == list(range(1, 17))
    assert all(r.created for r in results)
    names = sorted(p.name for p in (tmp_path / "forge" / "pulls").glob("*.json"))
    assert names == sorted(f"{n}.json" for n in range(1, 17))


def test_concurrent_writers_open_one_pull_request_per_branch(forge: Forge) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda n: upsert(forge, title=f"try {n}"), range(16)))

    assert {r.number for r in results} == {1}
    assert [r.created for r in results].count(True) == 1


def test_unreadable_record_names_the_file(tmp_path: Path, forge: Forge) -> None:
    pulls = tmp_path / "forge" / "pulls"
    pulls.mkdir(parents=True)
    (pulls / "1.json").write_text("{not json")

    with pytest.raises(InputError) as caught:
        upsert(forge)
    assert caught.value.path == str((pulls / "1.json").resolve())


def test_make_forge_chooses_by_name(tmp_path: Path) -> None:
    forge = make_forge("local", {}, directory=str(tmp_path))

    assert isinstance(forge, LocalForge) and forge.name == "local"
    assert FORGES == ("github", "gitlab", "local")


def test_local_forge_needs_a_directory() -> None:
    with pytest.raises(UsageError, match="directory"):
        make_forge("local", {})


def test_unknown_forge_is_a_usage_error() -> None:
    with pytest.raises(UsageError) as caught:
        make_forge("bitbucket", {"GITHUB_TOKEN": "x" * 8})
    assert "bitbucket" in caught.value.one_line()
    assert "github, gitlab, local" in caught.value.one_line()
