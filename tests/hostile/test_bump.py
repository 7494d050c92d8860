"""Hostile input to ``bump``: arguments, templates, file system objects, YAML shapes.

Each case runs bounded on a plain directory (``--no-commit``): it ends in one line and a
known exit code, never a traceback, and writes nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from hostile import Run, judge, run

DEPLOY = "apps/shop/deploy.yaml"
IMAGE = "r.test/acme/shop"


def tree(root: Path, files: dict[str, str] | None = None) -> Path:
    for rel, text in (files or {DEPLOY: f"image: {IMAGE}:1.0.0\n"}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def bump(root: Path, *args: str, seconds: float = 30) -> Run:
    return run("bump", "--repo", ".", "--no-commit", *args, cwd=root, seconds=seconds)


BAD_SETS = {
    "\\x escape": '"\\x".a=1',
    "\\N escape of no such name": '"\\N{NO SUCH}".a=1',
    "\\u escape cut short": '"\\u12".a=1',
    "trailing backslash": '"a\\\\\\".b=1',
}


@pytest.mark.parametrize("name", sorted(BAD_SETS))
def test_bad_escapes_in_a_set_path_are_bad_usage(tmp_path: Path, name: str) -> None:
    root = tree(tmp_path)
    result = bump(root, "--set", f"{DEPLOY}:{BAD_SETS[name]}")
    judge(result, codes=(2,))


MESSAGES = [
    "{names:>999999999999}",
    "{names.__class__}",
    "{names.__class__.__init__.__globals__}",
    "{names[0]}",
    "{names!r}",
    "{new_tag:{names}}",
    "{}",
    "{0}",
    "{ names }",
]


@pytest.mark.parametrize("template", MESSAGES)
def test_message_takes_only_the_documented_placeholders(tmp_path: Path, template: str) -> None:
    root = tree(tmp_path)
    result = bump(root, "--image", f"{IMAGE}:1.1.0", "--message", template)
    judge(result, codes=(2,))
    assert "--message" in result.stderr


def test_a_fifo_named_like_yaml_is_not_read(tmp_path: Path) -> None:
    root = tree(tmp_path)
    os.mkfifo(root / "apps/shop/x.yaml")
    result = bump(root, "--image", f"{IMAGE}:1.1.0", "--dry-run", seconds=20)
    judge(result, codes=(0,))
    assert f"+image: {IMAGE}:1.1.0" in result.stdout


def test_a_fifo_given_to_set_is_refused(tmp_path: Path) -> None:
    root = tree(tmp_path)
    os.mkfifo(root / "x.yaml")
    result = bump(root, "--set", "x.yaml:a=1", seconds=20)
    judge(result, codes=(2,))
    assert "x.yaml: not a regular file" in result.stderr


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_given_to_set_is_refused(tmp_path: Path, device: str) -> None:
    root = tree(tmp_path)
    (root / "dev.yaml").symlink_to(device)
    judge(bump(root, "--set", "dev.yaml:a=1", seconds=20), codes=(2,))


DUPLICATES = {
    "two image keys in a container": (
        "spec:\n  containers:\n    - name: app\n"
        f"      image: {IMAGE}:1.0.0\n      image: {IMAGE}:0.9.0\n",
        4,
    ),
    "two tag keys in Helm values": (
        f"image:\n  repository: {IMAGE}\n  tag: 1.0.0\n  tag: 0.9.0\n",
        3,
    ),
}


@pytest.mark.parametrize("name", sorted(DUPLICATES))
def test_duplicate_keys_where_an_edit_lands_are_refused(tmp_path: Path, name: str) -> None:
    text, line = DUPLICATES[name]
    root = tree(tmp_path, {DEPLOY: text})
    result = bump(root, "--image", f"{IMAGE}:1.1.0")
    judge(result, codes=(2,))
    assert f"{DEPLOY}:{line}: " in result.stderr and "duplicate key" in result.stderr


def test_duplicate_keys_elsewhere_do_not_stop_a_bump(tmp_path: Path) -> None:
    text = f"metadata:\n  name: a\n  name: b\nspec:\n  image: {IMAGE}:1.0.0\n"
    root = tree(tmp_path, {DEPLOY: text})
    result = bump(root, "--image", f"{IMAGE}:1.1.0", "--dry-run")
    judge(result, codes=(0,))


LONG = {
    "a 100 KB --image": ("--image", "r.test/" + "a" * 100_000 + ":1"),
    "a 100 KB --set": ("--set", "x.yaml:" + "k" * 100_000 + "=1"),
    "a 100 KB --setter": ("--setter", "n" * 100_000),
}


@pytest.mark.parametrize("name", sorted(LONG))
def test_a_huge_argument_is_not_printed_back_whole(tmp_path: Path, name: str) -> None:
    result = bump(tree(tmp_path), *LONG[name])
    judge(result, codes=(1, 2))  # 1: a valid reference nothing references
    assert len(result.stderr) <= 360 and result.stderr.count("\n") == 1, result.stderr


@pytest.mark.parametrize("abbreviated", ["--imag", "--no-comm", "--dry", "--allow-down"])
def test_abbreviated_options_are_refused(tmp_path: Path, abbreviated: str) -> None:
    result = run("bump", "--repo", ".", abbreviated, f"{IMAGE}:1.1.0", cwd=tree(tmp_path))
    judge(result, codes=(2,))
    assert abbreviated in result.stderr
