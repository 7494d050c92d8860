"""The scanner never follows a symlink or a path out of the repository root."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_actions.edit.plan import Request, SetValue, iter_files, plan
from gitops_actions.errors import InputError
from gitops_actions.imageref import parse


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("image: r.test/a:1.0.0\n")
    root = tmp_path / "repo"
    (root / "apps").mkdir(parents=True)
    (root / "apps" / "real.yaml").write_text("image: r.test/a:1.0.0\n")
    (root / "apps" / "link.yaml").symlink_to(outside / "secret.yaml")
    (root / "linked-dir").symlink_to(outside)
    (root / ".git").mkdir()
    (root / ".git" / "ignored.yaml").write_text("image: r.test/a:1.0.0\n")
    return root


def test_scan_skips_symlinks_and_git(repo: Path) -> None:
    assert list(iter_files(repo)) == ["apps/real.yaml"]
    result = plan(repo, Request(images=(parse("r.test/a:1.1.0"),)))
    assert result.files == ("apps/real.yaml",)
    assert (repo.parent / "outside" / "secret.yaml").read_text() == "image: r.test/a:1.0.0\n"


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("apps/link.yaml", "path goes through a symlink"),
        ("linked-dir/secret.yaml", "path goes through a symlink"),
        ("../outside/secret.yaml", "path leaves the repository"),
        ("/etc/hostname", "path leaves the repository"),
    ],
)
def test_set_refuses_paths_out_of_the_repo(repo: Path, target: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        plan(repo, Request(sets=(SetValue(target, "image", "x"),)))


def test_set_value_parsing() -> None:
    assert SetValue.parse("a.yaml:spec.containers[name=app].image=r/a:1") == SetValue(
        "a.yaml", "spec.containers[name=app].image", "r/a:1"
    )
    assert SetValue.parse('a.yaml:metadata.annotations."x=y"=v') == SetValue(
        "a.yaml", 'metadata.annotations."x=y"', "v"
    )
