"""Key paths: ``a.b``, ``a[0].b``, ``a.0.b``, ``annotations."app.kubernetes.io/version"``,
``containers[name=app].image``; resolved against composed YAML (or JSON) nodes."""

from __future__ import annotations

import re
from dataclasses import dataclass

import yaml

from gitops_actions.edit.source import Source, Splice, mapping_get, scalar
from gitops_actions.errors import UsageError


@dataclass(frozen=True)
class Select:
    """``[field=value]``: the list item whose ``field`` equals ``value``."""

    field: str
    value: str


Part = str | int | Select

_TOKEN = re.compile(
    r"""\s*(?:
        "(?P<dq>(?:[^"\\]|\\.)*)"            # "quoted.key"
      | '(?P<sq>[^']*)'                     # 'quoted.key'
      | \[(?P<index>-?\d+)\]                # [0]
      | \[(?P<field>[^\]=]+)=(?P<value>[^\]]*)\]  # [name=app]
      | (?P<bare>[^.\[\]"']+)               # key
      | (?P<dot>\.)
    )""",
    re.VERBOSE,
)


def parse_path(text: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    pos, expect_key = 0, True
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise UsageError(f"key path {text!r}: cannot read it at character {pos + 1}")
        pos = match.end()
        if match.group("dot") is not None:
            if expect_key:
                raise UsageError(f"key path {text!r}: empty key at character {pos}")
            expect_key = True
            continue
        if match.group("index") is not None:
            parts.append(int(match.group("index")))
        elif match.group("field") is not None:
            parts.append(
                Select(match.group("field").strip(), match.group("value").strip().strip("\"'"))
            )
        else:
            dq = match.group("dq")
            key = _unescape(text, dq) if dq is not None else None
            parts.append(key or match.group("sq") or match.group("bare").strip())
        expect_key = False
    if not parts or expect_key:
        raise UsageError(f"key path {text!r}: incomplete")
    return tuple(parts)


def _unescape(text: str, quoted: str) -> str:
    """A double-quoted key's escapes (``\\"``, ``\\n``, ``\\u00e9``) resolved."""
    if "\\" not in quoted:
        return quoted
    try:
        return quoted.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError as err:
        raise UsageError(f'key path {text!r}: bad escape in "{quoted}": {err.reason}') from None


def resolve(node: yaml.Node, path: tuple[Part, ...]) -> yaml.Node | None:
    for part in path:
        if isinstance(node, yaml.SequenceNode):
            if isinstance(part, Select):
                found = [i for i in node.value if scalar(mapping_get(i, part.field)) == part.value]
                if len(found) != 1:
                    return None
                node = found[0]
                continue
            index = part if isinstance(part, int) else int(part) if str(part).isdigit() else None
            if index is None or not -len(node.value) <= index < len(node.value):
                return None
            node = node.value[index]
        elif isinstance(node, yaml.MappingNode) and isinstance(part, str):
            found_value = mapping_get(node, part)
            if found_value is None:
                return None
            node = found_value
        else:
            return None
    return node


def plan_path(source: Source, path_text: str, value: str) -> tuple[int, list[Splice]]:
    """How many documents hold ``path_text``, and the splices that set it to ``value``."""
    path = parse_path(path_text)
    found, splices = 0, []
    for doc in source.docs:
        node = resolve(doc, path)
        if node is None:
            continue
        found += 1
        if scalar(node) != value:
            splices.append(source.replace_scalar(node, value, path_text))
    return found, splices
