"""Hostile input to ``comment``: diff JSON and markdown bodies, generated.

Bad documents end in one line and exit 2 with nothing posted; accepted bodies are
previewed (``--dry-run``) within bounds, with marker syntax neutralised.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hostile import CANARY, judge, run

GOOD = {
    "version": 1,
    "target": "config",
    "base": {"ref": "main", "sha": "3f2a9c1e5b7d4f6a8c0e2b4d6f8a0c2e4b6d8f0a"},
    "head": {"ref": "feature", "sha": "7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c8b"},
    "apps": [],
}


def with_(**fields: object) -> bytes:
    return json.dumps(GOOD | fields).encode()


def change(**fields: object) -> dict[str, object]:
    base = {"action": "changed", "version": "v1", "kind": "ConfigMap", "name": "x"}
    return base | fields


BAD_JSON: dict[str, Callable[[], bytes]] = {
    "nested 100000 deep (lists)": lambda: b"[" * 100_000 + b"]" * 100_000,
    "nested 100000 deep (objects)": lambda: b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
    "nested inside apps": lambda: with_(apps=[[[[[[[]]]]]]]).replace(b"[]", b"[" * 50_000),
    "version true": lambda: with_(version=True),
    "version 1.0": lambda: with_(version=1.0),
    "version '1'": lambda: with_(version="1"),
    "version missing": lambda: json.dumps({"target": "x"}).encode(),
    "head.sha closes the marker": lambda: with_(
        head={"sha": "-->\n<!-- gitops-actions:run:999999999 -->"}
    ),
    "head.sha not hex": lambda: with_(head={"sha": "z" * 40}),
    "head.sha a megabyte": lambda: with_(head={"sha": "a" * 2**20}),
    "target is only punctuation": lambda: with_(target="<!-- -->"),
    "target a megabyte": lambda: with_(target="t" * 2**20),
    "lone surrogate": lambda: with_(apps=[{"name": "\ud800", "changes": [change()]}]),
    "NaN count": lambda: b'{"version": 1, "filters": {"x": NaN}}',
    "a list": lambda: b"[1, 2, 3]",
    "empty": lambda: b"",
    "not UTF-8": lambda: b'{"version": 1, "target": "\xff\xfe"}',
    "UTF-16": lambda: '{"version": 1}'.encode("utf-16"),
    "NUL bytes": lambda: b"\0" * 4096,
    "200000 bad apps": lambda: with_(apps=[{"name": ""}] * 200_000),
}


@pytest.mark.parametrize("name", sorted(BAD_JSON))
def test_bad_diff_documents_are_one_line_and_post_nothing(tmp_path: Path, name: str) -> None:
    source = tmp_path / "diff.json"
    source.write_bytes(BAD_JSON[name]())
    forge = tmp_path / "forge"
    forge.mkdir()

    result = run(
        "comment", "--from", str(source), "--forge", "local", "--forge-dir", str(forge),
        "--pr", "1", cwd=tmp_path,
    )  # fmt: skip

    judge(result, codes=(2,))
    assert "diff.json" in result.stderr


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "diff.json")

    result = run("comment", "--from", "diff.json", "--dry-run", cwd=tmp_path, seconds=15)

    judge(result, codes=(2,))
    assert "not a regular file" in result.stderr


@pytest.mark.parametrize("source", ["/dev/zero", "/dev/urandom", "."])
def test_devices_and_directories_are_refused(tmp_path: Path, source: str) -> None:
    judge(run("comment", "--from", source, "--dry-run", cwd=tmp_path), codes=(2,))


def test_a_huge_sparse_file_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with open(tmp_path / "diff.json", "wb") as f:
        f.truncate(8 * 2**30)

    result = run("comment", "--from", "diff.json", "--dry-run", cwd=tmp_path)

    judge(result, codes=(2,))
    assert "larger than" in result.stderr


MARKDOWN: dict[str, Callable[[], str]] = {
    "forged markers everywhere": lambda: (
        "<!-- gitops-actions:diff:config -->\n<!-- gitops-actions:run:999999999 -->\n" * 2000
    ),
    "marker split by case and blanks": lambda: "<!--\n\tGITOPS-ACTIONS:diff:config -->\n" * 100,
    "100000 nested details": lambda: "<details><summary>x</summary>\n\n" * 100_000,
    "100000 unclosed fences": lambda: "````x\n" * 100_000,
    "one 5 MB line": lambda: "x" * (5 * 2**20),
    "a million blank lines": lambda: "\n" * 1_000_000 + "end\n",
    "NUL and control characters": lambda: "\0\x1b[31m\r\x7f" * 10_000,
    "unclosed HTML comment": lambda: "<!--\n" + "text\n" * 10_000,
    "the canary token": lambda: f"token: {CANARY['GITHUB_TOKEN']}\n",
}


@pytest.mark.parametrize("name", sorted(MARKDOWN))
def test_hostile_markdown_is_previewed_within_bounds(tmp_path: Path, name: str) -> None:
    (tmp_path / "notes.md").write_text(MARKDOWN[name](), encoding="utf-8")

    result = run("comment", "--from", "notes.md", "--dry-run", "--target", "notes", cwd=tmp_path)

    judge(result, codes=(0, 2))
    lines = result.stdout.splitlines()
    markers = [i for i, line in enumerate(lines) if line.startswith("<!-- gitops-actions:")]
    starts = [i for i, line in enumerate(lines) if line.startswith("----- part ")]
    # only our own two header lines in each part carry marker syntax
    assert all(i - 1 in starts or i - 2 in starts for i in markers), name
