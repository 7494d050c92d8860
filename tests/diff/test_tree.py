"""Config trees read from git objects list and compare as the checkout does."""

from __future__ import annotations

import os
from pathlib import Path

from gitops_actions import git
from gitops_actions.diff.tree import DiskTree, GitTree, blob_id, changed_paths


def test_a_git_tree_lists_files_as_a_checkout_holds_them(tmp_path: Path) -> None:
    root = tmp_path / "config"
    (root / "apps").mkdir(parents=True)
    (root / "apps/a.yaml").write_text("kind: A\n")
    (root / "apps/run.sh").write_text("#!/bin/sh\n")
    os.chmod(root / "apps/run.sh", 0o755)
    (root / "apps/odd\tname 100644 blob x.yaml").write_text("kind: B\n")
    os.symlink("a.yaml", root / "apps/link.yaml")
    repo = git.init(root)
    repo.add()
    base = repo.commit("base")
    (root / "apps/a.yaml").write_text("kind: C\n")
    (root / "apps/run.sh").unlink()
    (root / "apps/new.yaml").write_text("kind: D\n")
    repo.add()
    head = repo.commit("head")

    old, new = GitTree(repo, base, tmp_path), GitTree(repo, head, tmp_path)
    assert list(old.files()) == ["apps/a.yaml", "apps/odd\tname 100644 blob x.yaml", "apps/run.sh"]
    assert old.blob("apps/a.yaml") == blob_id(b"kind: A\n")
    assert new.read("apps/new.yaml") == b"kind: D\n"
    assert changed_paths(old, new) == ["apps/a.yaml", "apps/new.yaml", "apps/run.sh"]
    # the same answer as comparing the checkouts file by file
    disk_new = DiskTree(root)
    assert list(disk_new.files()) == list(new.files())
    assert changed_paths(old, disk_new) == ["apps/a.yaml", "apps/new.yaml", "apps/run.sh"]


def test_a_search_derived_from_another_commit_finds_what_git_grep_finds(tmp_path: Path) -> None:
    root = tmp_path / "config"
    (root / "apps").mkdir(parents=True)
    files = {
        "apps/same.yaml": b"kind: ConfigMap\n",
        "apps/gains.yaml": b"kind: Service\n",
        "apps/loses.yaml": b"kind: Secret\n",
        "apps/removed.yaml": b"kind: ConfigMap\n",
        "apps/binary.yaml": b"kind: Service\n",
        "apps/other.yaml": b"kind: Deployment\n",
    }
    for path, data in files.items():
        (root / path).write_bytes(data)
    repo = git.init(root)
    repo.add()
    base = repo.commit("base")
    (root / "apps/gains.yaml").write_bytes(b"kind: Service\n---\nkind: Secret\n")
    (root / "apps/loses.yaml").write_bytes(b"kind: Service\n")
    (root / "apps/removed.yaml").unlink()
    (root / "apps/added.yaml").write_bytes(b"kind: ConfigMap\n")
    (root / "apps/binary.yaml").write_bytes(b"\0kind: Secret\n")
    repo.add()
    head = repo.commit("head")

    needles = (b"ConfigMap", b"Secret")
    for older, newer in ((base, head), (head, base)):
        searched = GitTree(repo, newer, tmp_path)
        expected = GitTree(repo, older, tmp_path).grep(*needles)
        derived = GitTree(repo, older, tmp_path)
        derived.derive(searched)
        assert searched.grep(*needles) != expected  # the two commits answer differently
        assert derived.grep(*needles) == expected
    assert expected == ["apps/added.yaml", "apps/gains.yaml", "apps/same.yaml"]  # the head
