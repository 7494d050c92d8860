"""Sticky comments on the local file forge: one markdown file per part."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_sticky_github import parts

from gitops_actions.comment import sticky
from gitops_actions.errors import UsageError
from gitops_actions.forge import Comment, make_forge
from gitops_actions.forge.local import LocalForge


@pytest.fixture
def forge(tmp_path: Path) -> LocalForge:
    made = make_forge("local", {}, directory=str(tmp_path / "forge"))
    assert isinstance(made, LocalForge)
    return made


def publish(forge: LocalForge, texts: list[str], **kwargs: object) -> sticky.Outcome:
    options = {"project": "local", "number": 4, "target": "config", "run": 1} | kwargs
    return sticky.publish(forge, parts=texts, **options)  # type: ignore[arg-type]


def files(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "forge" / "comments" / "4"
    return {p.name: p.read_text() for p in sorted(folder.glob("*"))}


def test_each_part_is_a_file_named_by_target_and_part(tmp_path: Path, forge: LocalForge) -> None:
    texts = parts("one\n", "two\n")

    outcome = publish(forge, texts)

    assert files(tmp_path) == {"config-1.md": texts[0], "config-2.md": texts[1]}
    folder = tmp_path / "forge" / "comments" / "4"
    assert [c.url for c in outcome.comments] == [
        str(folder / "config-1.md"),
        str(folder / "config-2.md"),
    ]


def test_rerun_leaves_the_files_alone_and_shrinking_removes_parts(
    tmp_path: Path, forge: LocalForge
) -> None:
    publish(forge, parts("one\n", "two\n", "three\n"))
    first = tmp_path / "forge" / "comments" / "4" / "config-1.md"
    stamp = first.stat().st_mtime_ns

    again = publish(forge, parts("one\n", "two\n", "three\n"))
    assert not again.changed and first.stat().st_mtime_ns == stamp

    publish(forge, parts("only\n", run=2), run=2)
    assert files(tmp_path) == {"config-1.md": parts("only\n", run=2)[0]}


def test_older_run_is_refused_and_other_targets_are_kept(tmp_path: Path, forge: LocalForge) -> None:
    publish(forge, parts("staging\n", target="staging", run=9), target="staging", run=9)
    publish(forge, parts("new\n", run=5), run=5)

    late = publish(forge, parts("old\n", run=4), run=4)

    assert late.plan.blocked
    assert set(files(tmp_path)) == {"staging-1.md", "config-1.md"}
    assert "new" in files(tmp_path)["config-1.md"]


def test_comment_names_cannot_leave_the_folder(forge: LocalForge) -> None:
    with pytest.raises(UsageError):
        forge.create_comment(project="local", number=4, body="x", key="../escape")
    with pytest.raises(UsageError):
        forge.delete_comment(project="local", number=4, comment=Comment("../../x.md", "", ""))
