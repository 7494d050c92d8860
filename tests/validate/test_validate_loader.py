"""YAML as the Kubernetes decoder reads it, and hostile input refused in bounded time."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import pytest

from gitops_actions.validate import engine, positions
from gitops_actions.validate.schemas import Catalog
from gitops_actions.yamlread import loader, scalars


def load(text: str) -> list[Any]:
    return [d.value for d in loader.documents(text)]


@pytest.mark.parametrize(
    ("plain", "value"),
    [
        # YAML 1.1 booleans, as go-yaml v2 reads them (including y and n)
        ("yes", True),
        ("Yes", True),
        ("on", True),
        ("ON", True),
        ("y", True),
        ("no", False),
        ("off", False),
        ("n", False),
        ("true", True),
        ("False", False),
        # nulls
        ("~", None),
        ("null", None),
        ("NULL", None),
        ("", None),
        # integers: octal with a leading zero, 0o, 0x, 0b, underscores, signs
        ("0755", 493),
        ("0o17", 15),
        ("0x1F", 31),
        ("0b101", 5),
        ("-0b11", -3),
        ("1_000", 1000),
        ("+12", 12),
        ("-7", -7),
        ("9223372036854775807", 2**63 - 1),
        ("18446744073709551615", 2**64 - 1),
        # floats; integral ones travel as JSON integers
        ("1.5", 1.5),
        (".5", 0.5),
        ("1e3", 1000),
        ("3.0", 3),
        ("08", 8),
        # strings: timestamps stay strings, no sexagesimal, not numbers
        ("2024-05-01", "2024-05-01"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00Z"),
        ("1:20", "1:20"),
        ("1.2.3", "1.2.3"),
        ("0x", "0x"),
        ("1e400", "1e400"),
        ("yesterday", "yesterday"),
        ("nope", "nope"),
        ("True_", "True_"),
    ],
)
def test_plain_scalars_resolve_like_go_yaml_v2(plain: str, value: Any) -> None:
    resolved = scalars.resolve_plain(plain)
    assert resolved == value
    assert type(resolved) is type(value)


def test_special_floats() -> None:
    assert math.isnan(scalars.resolve_plain(".nan"))
    assert scalars.resolve_plain("-.Inf") == -math.inf


def test_quoted_and_tagged_scalars_keep_their_text() -> None:
    [doc] = load("a: 'yes'\nb: \"0755\"\nc: !!str 5\nd: !!int '7'\ne: !Ref thing\nf: |\n  on\n")
    assert doc == {"a": "yes", "b": "0755", "c": "5", "d": 7, "e": "thing", "f": "on\n"}


def test_keys_become_strings_as_sigs_k8s_io_yaml_makes_them() -> None:
    [doc] = load("1: a\ntrue: b\non: c\n1.5: d\n")
    assert doc == {"1": "a", "true": "c", "1.5": "d"}  # on: is true: again


def test_repeated_keys_are_reported_with_both_lines_and_the_last_value_wins() -> None:
    [doc] = loader.documents("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n")
    assert doc.value == {"a": 4, "b": {"c": 3}}
    found = [(p.message, p.node.start_mark.line + 1 if p.node else 0) for p in doc.problems]
    assert found == [
        ("duplicate key 'c' (first at line 3)", 4),
        ("duplicate key 'a' (first at line 1)", 5),
    ]


def test_merge_keys_give_way_to_explicit_keys_and_are_no_duplicates() -> None:
    text = "base: &b {p: 1, q: 2}\nother: &o {q: 9, r: 3}\nm:\n  <<: [*b, *o]\n  p: 0\n"
    [doc] = loader.documents(text)
    assert doc.value["m"] == {"p": 0, "q": 2, "r": 3}
    assert doc.problems == []


def test_positions_are_found_only_on_the_path_asked_for() -> None:
    [doc] = loader.documents("a:\n  list:\n    - x: 1\n    - x: 2\n      y: 3\n")
    assert positions.locate(doc.node, ("a", "list", 1, "y")) == (5, 10)
    assert positions.locate_key(doc.node, ("a", "list", 1, "y")) == (5, 7)
    assert positions.locate(doc.node, ("a", "missing", 0)) == (2, 3)  # the deepest that exists
    assert positions.reach(doc.node, ("a", "list", 9)) == 2


def test_documents_before_a_syntax_error_are_kept() -> None:
    seen = []
    with pytest.raises(loader.LoadError) as err:
        for doc in loader.documents("a: 1\n---\nb: [2\n"):
            seen.append(doc.value)
    assert seen == [{"a": 1}]
    assert (err.value.line, err.value.message) == (
        4,
        "cannot parse YAML: while parsing a flow sequence did not find expected ',' or ']'",
    )


def test_json_repeated_keys_point_at_the_repeat() -> None:
    [doc] = loader.json_documents('{"a": 1,\n "b": {"c": 1, "c": 2}}')
    assert doc.value == {"a": 1, "b": {"c": 2}}
    [problem] = doc.problems
    assert problem.node is not None
    assert (problem.node.start_mark.line, problem.node.start_mark.column) == (1, 15)


# -- hostile input: a clear error, fast, and the other files still checked -------------------
def check(path: Path) -> engine.Result:
    return engine.check_source(engine.Source(str(path), "files"), Catalog("1.32"), settings())


def settings() -> engine.Settings:
    return engine.Settings("1.32")


def bounded(path: Path, seconds: float = 5.0) -> str:
    started = time.perf_counter()
    result = check(path)
    assert time.perf_counter() - started < seconds
    assert result.unusable
    [finding] = result.findings
    assert finding.check == "yaml"
    return f"{finding.line}: {finding.message}"


def test_alias_bomb(tmp_path: Path) -> None:
    levels = [f"l0: &l0 [{', '.join(['x'] * 9)}]"]
    for i in range(1, 10):
        levels.append(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]")
    (tmp_path / "bomb.yaml").write_text("\n".join(levels) + "\n")
    assert "excessive aliasing" in bounded(tmp_path / "bomb.yaml")


def test_recursive_alias(tmp_path: Path) -> None:
    (tmp_path / "loop.yaml").write_text("a: &a [*a]\n")
    assert bounded(tmp_path / "loop.yaml") == "1: recursive alias"


def test_deep_flow_nesting_does_not_crash_the_parser(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("a: " + "[" * 200_000 + "]" * 200_000 + "\n")
    assert bounded(tmp_path / "deep.yaml") == f"1: nesting deeper than {loader.MAX_DEPTH} levels"


def test_deep_block_nesting(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("".join(" " * i + "a:\n" for i in range(400)))
    assert "nesting deeper than" in bounded(tmp_path / "deep.yaml")


def test_100_mb_file_is_refused_unread(tmp_path: Path) -> None:
    with (tmp_path / "huge.yaml").open("wb") as f:
        f.truncate(100 * 1024 * 1024)
    assert bounded(tmp_path / "huge.yaml", 1.0) == (
        "1: file of 100 MiB is larger than the 32 MiB limit; not read"
    )


def test_huge_document_is_refused(tmp_path: Path) -> None:
    body = "".join(f"  k{i}: {'v' * 60}\n" for i in range(80_000))  # ~6 MiB
    (tmp_path / "big.yaml").write_text("---\nsmall: 1\n---\ndata:\n" + body)
    assert "larger than the 4 MiB limit" in bounded(tmp_path / "big.yaml")


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "logo.yaml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert bounded(tmp_path / "logo.yaml") == "3: binary data, not YAML (NUL byte at offset 8)"


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes("kind: ConfigMap\nname: caf\xe9\n".encode("latin-1"))
    assert bounded(tmp_path / "latin1.yaml") == "2: not UTF-8 text (invalid byte at offset 25)"


def test_control_characters(tmp_path: Path) -> None:
    (tmp_path / "bell.yaml").write_text("a: b\nc: \x07\n")
    assert "unacceptable character #x0007" in bounded(tmp_path / "bell.yaml")


def test_utf8_bom_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfapiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n")
    result = check(path)
    assert (result.findings, len(result.seen)) == ([], 1)
