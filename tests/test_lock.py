"""The locks pin, with hashes, every dependency pyproject.toml declares (scripts/lock.sh)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
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


def imported_distributions() -> set[str]:
    """The distributions whose modules the package imports (its own and the stdlib aside)."""
    modules: set[str] = set()
    for path in (ROOT / "gitops_actions").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                modules.add(node.module.split(".")[0])
    owners = importlib.metadata.packages_distributions()
    third_party = modules - set(sys.stdlib_module_names) - {"gitops_actions", "__future__"}
    return {normalise(owners[name][0]) for name in third_party if name in owners} | {
        f"unknown:{name}" for name in third_party if name not in owners
    }


def test_the_runtime_declares_exactly_what_the_package_imports() -> None:
    assert imported_distributions() == set(declared())
