"""Byte-exact golden cases: tests/data/bump/<case>/{input,expected,args[,error]}.

Each case runs ``bump --repo <copy of input> --no-commit ARGS`` and compares the tree with
``expected`` byte for byte. An ``error`` file holds the exit code and the exact error line;
for those the tree must be left exactly as the input was.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops_actions import cli

DATA = Path(__file__).resolve().parent.parent / "data" / "bump"
CASES = sorted(p.name for p in DATA.iterdir() if p.is_dir())


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("case", CASES)
def test_golden(case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = DATA / case
    repo = tmp_path / "repo"
    shutil.copytree(source / "input", repo)
    args = (source / "args").read_text().splitlines()
    code = cli.main(["bump", "--repo", str(repo), "--no-commit", *args], env={})
    err = capsys.readouterr().err
    if (source / "error").exists():
        expected_code, message = (source / "error").read_text().splitlines()
        assert (code, err) == (int(expected_code), message.replace("{repo}", str(repo)) + "\n")
        assert tree(repo) == tree(source / "input"), "a refused bump must leave no trace"
    else:
        assert code == 0, err
        assert tree(repo) == tree(source / "expected")
