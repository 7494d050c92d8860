"""Reading straight to values gives what reading through nodes gives, errors included."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from gitops_actions.yamlread import loader
from gitops_actions.yamlread.values import _plain_values, values

DATA = Path(__file__).parent.parent / "data"

TRICKY = [
    "",
    "# only a comment\n",
    "---\n---\n",
    "~\n",
    "null\n---\nkind: A\n",
    "on\n",
    "'on'\n",
    "resources:\n- a.yaml\n- ../../base\nnamespace: prod\n",
    "images:\n  - name: x\n    newTag: 1.0\n  - name: y\n    newTag: '1.10'\n    digest: 0x1F\n",
    "a: [on, y, 1e3, 0o644, 0755, 1_000, 2024-05-01, 2024-5-1 10:30:00, ~, '', \"\"]\n",
    "a: {b: 1:20, c: 2001-12-14t21:59:43.10-05:00, d: .inf, e: -.Inf, f: .nan}\n",
    "a: 1:20\nb: 2001-12-14t21:59:43.10-05:00\nc: 2024-05-01\nd: y\ne: off\n",
    "1: one\ntrue: yes\n2.5: x\n",  # keys that are not strings: read through nodes
    "~: null key\n",
    "a: 1\na: 2\n",  # a repeated key: the latest wins
    "base: &b {x: 1}\nuse: *b\n",
    "<<: {x: 1}\ny: 2\n",
    "a: !!str 012\nb: !!int '7'\nc: !custom v\n",
    "? [a, b]\n: complex key\n",
    "a: |\n  line one\n  line two\nb: >\n  folded\n  text\n",
    "a: 'it''s'\nb: \"tab\\there\\u00e9\"\n",
    "a:\n  b:\n    c:\n      - - - deep\n",
    "key: value\n  bad: indentation\n",
    "a: [unclosed\n",
    "first: ok\n---\nsecond: [broken\n",
    "- a\n- b: c\n  d: [e, {f: g}]\n",
    '{json: [1, 2.0, true, null, "s"]}\n',
    "a: 9223372036854775808\nb: -9223372036854775809\nc: 18446744073709551616\n",
    "%YAML 1.1\n---\na: b\n...\n",
    "a: b\n...\n---\nc: d\n",
    "\ufeffa: b\n",
    "a:\tb\n",
    "a: '\n  folded single\n  quoted'\n",
]


def through_nodes(text: str, kustomize: bool) -> Any:
    try:
        return ("ok", [d.value for d in loader.documents(text, kustomize=kustomize)])
    except loader.LoadError as err:
        return ("error", err.message, err.line, err.column)


def straight(text: str, kustomize: bool) -> Any:
    try:
        return ("ok", values(text, kustomize=kustomize))
    except loader.LoadError as err:
        return ("error", err.message, err.line, err.column)


def same(a: Any, b: Any) -> bool:
    """Equal, NaN included, and of the same types (1 is not 1.0 nor True)."""
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


@pytest.mark.parametrize("kustomize", [False, True])
@pytest.mark.parametrize("text", TRICKY)
def test_tricky_texts_read_the_same(text: str, kustomize: bool) -> None:
    assert same(straight(text, kustomize), through_nodes(text, kustomize))


def test_every_yaml_file_of_the_fixtures_reads_the_same() -> None:
    files = sorted(p for p in DATA.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())
    assert len(files) > 100
    for path in files:
        try:
            text = loader.decode(path.read_bytes())
        except loader.LoadError:
            continue
        for kustomize in (False, True):
            assert same(straight(text, kustomize), through_nodes(text, kustomize)), path


SCALARS = [
    "a",
    "on",
    "Off",
    "y",
    "n",
    "~",
    "null",
    "true",
    "1",
    "-1",
    "+1",
    "0",
    "012",
    "0o17",
    "0x1f",
    "0b101",
    "1_000",
    "1e3",
    "1.5",
    ".5",
    "-.inf",
    ".NaN",
    "1:20",
    "2024-05-01",
    "2024-5-1",
    "2024-05-01 10:30:00",
    "2024-05-01T10:30:00Z",
    "1.0.0",
    "-",
    ".",
    "..",
    "../base",
    "a b",
    "x:y",
    "'q'",
    '"d"',
    "'on'",
    '"1"',
    "''",
    "9223372036854775808",
    "-0",
    "+.5",
    "1e400",
    "0.0",
    "a # comment",
    "'a # b'",
]
ODD = ["*", "&", "!x", "<<", "*a", "&a b", "!!str 1", "? q"]  # read through nodes
KEYS = ["name", "resources", "images", "newTag", "x-y", "app.kubernetes.io/name", "a b"]


def scalar(rng: random.Random) -> str:
    return rng.choice(ODD) if rng.random() < 0.02 else rng.choice(SCALARS)


def key(rng: random.Random) -> str:
    return scalar(rng) if rng.random() < 0.1 else rng.choice(KEYS)


def generated(rng: random.Random, depth: int = 0) -> str:
    """A random YAML text in block and flow style, from the scalars above."""
    lines: list[str] = []
    indent = "  " * depth
    for _ in range(rng.randint(1, 4)):
        shape = rng.random()
        name = key(rng)
        if shape < 0.4 or depth > 2:
            lines.append(f"{indent}{name}: {scalar(rng)}")
        elif shape < 0.55:
            items = ", ".join(scalar(rng) for _ in range(rng.randint(0, 3)))
            lines.append(f"{indent}{name}: [{items}]")
        elif shape < 0.7:
            pairs = ", ".join(f"{scalar(rng)}: {scalar(rng)}" for _ in range(rng.randint(0, 3)))
            lines.append(f"{indent}{name}: {{{pairs}}}")
        elif shape < 0.85:
            lines.append(f"{indent}{name}:")
            for _ in range(rng.randint(1, 3)):
                lines.append(f"{indent}  - {scalar(rng)}")
        else:
            lines.append(f"{indent}{name}:")
            lines.append(generated(rng, depth + 1))
    return "\n".join(lines)


def test_random_texts_read_the_same() -> None:
    rng = random.Random(10)
    quick = 0
    for _ in range(3000):
        text = generated(rng)
        if rng.random() < 0.2:
            text = f"{text}\n---\n{generated(rng)}"
        quick += _plain_values(text, False) is not None
        for kustomize in (False, True):
            assert same(straight(text, kustomize), through_nodes(text, kustomize)), text
    assert quick > 1000  # most texts took the straight way
