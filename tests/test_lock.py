"""The locks pin, with hashes, every dependency pyproject.toml declares (scripts/lock.sh)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def pins(lock: str) -> dict[str, str]:
    text = (ROOT / "requirements" / lock).read_text()
    found = dict(re.findall(r"^([A-Za-z0-9_.-]+)==(\S+) \\$", text, re.MULTILINE))
    assert len(found) == text.count("==") > 0
    for block in re.split(r"\n(?=\S)", text):
        if "==" in block:
            assert "--hash=sha256:" in block, f"{lock}: no hash for {block.split()[0]}"
    return {normalise(name): version for name, version in found.items()}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(extra: str | None = None) -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [normalise(re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0]) for spec in specs]


@pytest.mark.parametrize(("lock", "extra"), [("runtime.txt", None), ("test.txt", "test")])
def test_every_declared_dependency_is_pinned_with_hashes(lock: str, extra: str | None) -> None:
    pinned = pins(lock)
    wanted = declared() + (declared(extra) if extra else [])
    assert [name for name in wanted if name not in pinned] == []


def test_the_test_lock_pins_the_runtime_exactly_as_the_runtime_lock() -> None:
    runtime, test = pins("runtime.txt"), pins("test.txt")
    assert {name: test.get(name) for name in runtime} == runtime
