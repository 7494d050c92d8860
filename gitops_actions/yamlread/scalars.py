"""Scalars as go-yaml v2 resolves them, which is how kubectl and the API server read YAML.

``yes``/``on``/``y`` are booleans, ``0755`` is octal, ``1_000`` is an integer, timestamps
stay strings, ``1:20`` is a string (no sexagesimal), and a mapping key that resolves to
something else than a string becomes one the way sigs.k8s.io/yaml writes it (``true``).
"""

from __future__ import annotations

import datetime
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


# YAML 1.1 words that go-yaml v3 (kustomize's reader) leaves as strings
_YAML11_WORDS = frozenset(
    ("y", "Y", "yes", "Yes", "YES", "on", "On", "ON", "n", "N", "no", "No", "NO", "off", "Off")
) | {"OFF"}
_TIMESTAMP = re.compile(
    r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?:([Tt])([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?(Z|[+-][0-9]{2}:[0-9]{2})"
    r"| ([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:\.([0-9]+))?)?"
)


def resolve_kustomize(text: str) -> Any:
    """A plain scalar as kustomize reads it (go-yaml v3, then JSON): the YAML 1.1 words
    (``on``, ``y``, ``no``) stay strings and a timestamp becomes its RFC 3339 text, as Go
    writes a ``time.Time``; everything else as ``resolve_plain``. Reading kustomize's
    output with ``resolve_plain`` then gives the same values."""
    if text in _YAML11_WORDS:
        return text
    if len(text) >= 8 and text[4] == "-" and text[:4].isdigit():
        stamp = go_timestamp(text)
        if stamp is not None:
            return stamp
    return resolve_plain(text)


def resolve_kustomize_flow(text: str) -> Any:
    """``resolve_kustomize`` inside a flow collection (``[a, b]``), where kustomize reads a
    timestamp with a time of day (it holds ``:``) as the string it is."""
    return resolve_plain(text) if ":" in text else resolve_kustomize(text)


def go_timestamp(text: str) -> str | None:
    """``2024-5-1`` -> ``2024-05-01T00:00:00Z``: the formats go-yaml v3 reads as a time,
    written as Go's ``time.Time`` marshals to JSON (RFC 3339, fraction trimmed)."""
    match = _TIMESTAMP.fullmatch(text)
    if match is None:
        return None
    year, month, day = int(match[1]), int(match[2]), int(match[3])
    if match[4]:
        clock, fraction, zone = match.group(5, 6, 7), match[8] or "", match[9]
    elif match[10]:
        clock, fraction, zone = match.group(10, 11, 12), match[13] or "", "Z"
    else:
        clock, fraction, zone = ("0", "0", "0"), "", "Z"
    hour, minute, second = map(int, clock)
    try:
        datetime.date(year, month, day)
    except ValueError:
        return None
    if hour > 23 or minute > 59 or second > 59:
        return None
    if zone != "Z":
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 24 or minutes > 59:
            return None
        if hours == 0 and minutes == 0:
            zone = "Z"
    fraction = fraction[:9].rstrip("0")
    dot = f".{fraction}" if fraction else ""
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{dot}{zone}"


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
