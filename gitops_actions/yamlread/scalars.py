"""Scalars as go-yaml v2 resolves them, which is how kubectl and the API server read YAML.

``yes``/``on``/``y`` are booleans, ``0755`` is octal, ``1_000`` is an integer, timestamps
stay strings, ``1:20`` is a string (no sexagesimal), and a mapping key that resolves to
something else than a string becomes one the way sigs.k8s.io/yaml writes it (``true``).
"""

from __future__ import annotations

import math
import re
from typing import Any

import yaml

TAG_PREFIX = "tag:yaml.org,2002:"

# go-yaml v2's resolve table: the first character decides what a plain scalar can be
HINTS = frozenset("+-0123456789.yYnNtTfFoO~")
_WORDS_ONLY = frozenset("yYnNtTfFoO~")
_WORDS: dict[str, Any] = {
    **dict.fromkeys(("y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE"), True),
    **dict.fromkeys(("on", "On", "ON"), True),
    **dict.fromkeys(("n", "N", "no", "No", "NO", "false", "False", "FALSE"), False),
    **dict.fromkeys(("off", "Off", "OFF"), False),
    **dict.fromkeys(("~", "null", "Null", "NULL"), None),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
}
_GO_INT = re.compile(
    r"([-+]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]+)|([0-9]+))"
)
_GO_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")
_INT64 = 1 << 63


def resolve_plain(text: str) -> Any:
    """A plain (unquoted, untagged) scalar as go-yaml v2 resolves it."""
    if not text:
        return None
    first = text[0]
    if first not in HINTS:
        return text
    word = _WORDS.get(text, _WORDS)
    if word is not _WORDS:
        return word
    if first in _WORDS_ONLY:
        return text
    plain = text.replace("_", "") if "_" in text else text
    if first != ".":
        number = _go_int(plain)
        if number is not None:
            return number
    if _GO_FLOAT.fullmatch(plain):
        value = float(plain)
        if math.isinf(value):
            return text  # strconv.ParseFloat reports a range error: it stays a string
        return int(value) if value.is_integer() and abs(value) < 1e21 else value
    return text


def _go_int(plain: str) -> int | None:
    """``strconv.ParseInt(s, 0, 64)``, then ``ParseUint``: prefixes 0x, 0o, 0b, 0 (octal)."""
    match = _GO_INT.fullmatch(plain)
    if match is None:
        return None
    sign, hexa, octal, binary, legacy_octal, decimal = match.groups()
    if hexa:
        value = int(hexa, 16)
    elif octal:
        value = int(octal, 8)
    elif binary:
        value = int(binary, 2)
    elif legacy_octal:
        value = int(legacy_octal, 8)
    else:
        value = int(decimal)
    if sign == "-":
        return -value if value <= _INT64 else None
    if value < _INT64 or (not sign and value < 2 * _INT64):
        return value
    return None


def resolve_tagged(node: yaml.ScalarNode) -> Any:
    """A scalar with an explicit tag: core tags convert, any other tag leaves a string."""
    tag = node.tag
    if not tag.startswith(TAG_PREFIX):
        return node.value
    name = tag[len(TAG_PREFIX) :]
    if name in ("int", "float", "bool", "null"):
        return resolve_plain(node.value)
    return node.value


def key_string(key: Any) -> str | None:
    """A mapping key as sigs.k8s.io/yaml turns it into a JSON object key."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int):
        return str(key)
    if isinstance(key, float):
        if math.isnan(key):
            return ".nan"
        if math.isinf(key):
            return ".inf" if key > 0 else "-.inf"
        return str(int(key)) if key.is_integer() and abs(key) < 1e21 else repr(key)
    return None
