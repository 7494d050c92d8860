"""Terraform ``.tfvars`` / HCL attribute assignments: ``image_tag = "1.2.3"``.

A small scanner that knows strings, comments, heredocs and nesting, so ``a.b`` finds
``b = "..."`` inside ``a = { ... }`` and nothing inside a comment or another string.
Only quoted string values without interpolation are edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops_actions.edit.source import Splice
from gitops_actions.errors import InputError

_IDENT = re.compile(r'[A-Za-z_][\w-]*|"(?:[^"\\]|\\.)*"')
_ASSIGN = re.compile(r"\s*[=:]\s*")
_HEREDOC = re.compile(r"<<-?([A-Za-z_]\w*)\n")


@dataclass(frozen=True)
class Attribute:
    path: tuple[str, ...]
    start: int  # the string's opening quote
    end: int  # after its closing quote
    value: str
    line: int


def _string_end(text: str, start: int) -> int:
    pos = start + 1
    while pos < len(text):
        if text[pos] == "\\":
            pos += 2
            continue
        if text[pos] == '"':
            return pos + 1
        if text[pos] == "\n":
            break
        pos += 1
    raise InputError("unterminated string", line=text.count("\n", 0, start) + 1)


def attributes(text: str) -> list[Attribute]:
    """Every ``key = "string"`` assignment, with its path through enclosing objects."""
    found: list[Attribute] = []
    stack: list[str | None] = []  # key of each open { or [ (None when not an object value)
    pending: str | None = None
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char in " \t\r\n,":
            pos += 1
        elif char == "#" or text.startswith("//", pos):
            pos = text.find("\n", pos) if "\n" in text[pos:] else len(text)
        elif text.startswith("/*", pos):
            stop = text.find("*/", pos + 2)
            pos = len(text) if stop < 0 else stop + 2
        elif heredoc := _HEREDOC.match(text, pos):
            end = re.compile(rf"^\s*{heredoc.group(1)}\s*$", re.MULTILINE).search(
                text, heredoc.end()
            )
            pos = len(text) if end is None else end.end()
            pending = None
        elif char in "{[":
            stack.append(pending if char == "{" else None)
            pending, pos = None, pos + 1
        elif char in "}]":
            if stack:
                stack.pop()
            pending, pos = None, pos + 1
        elif char == '"':
            close = _string_end(text, pos)
            if pending is not None and None not in stack:
                raw = text[pos + 1 : close - 1]
                path = (*[k for k in stack if k is not None], pending)
                found.append(Attribute(path, pos, close, raw, text.count("\n", 0, pos) + 1))
            pending, pos = None, close
        elif ident := _IDENT.match(text, pos):
            assign = _ASSIGN.match(text, ident.end())
            if assign and text[assign.start() : assign.end()].strip() in ("=", ":"):
                pending, pos = ident.group(0).strip('"'), assign.end()
            else:
                pending, pos = None, ident.end()
        else:
            pending, pos = None, pos + 1
    return found


def plan_hcl(path: str, text: str, key_path: str, value: str) -> tuple[int, list[Splice]]:
    """How many attributes match ``key_path`` (dotted), and the splices setting them."""
    wanted = tuple(key_path.split("."))
    try:
        matches = [a for a in attributes(text) if a.path == wanted]
    except InputError as err:
        raise InputError(err.message, path=path, line=err.line) from None
    splices = []
    for attr in matches:
        if "${" in attr.value or "%{" in attr.value:
            raise InputError(
                f"{key_path}: the value is built by a template; refusing to edit it",
                path=path,
                line=attr.line,
            )
        if attr.value != value:
            escaped = value.replace("\\", "\\\\").replace('"', '\\"')
            splices.append(
                Splice(attr.start, attr.end, f'"{escaped}"', attr.line, key_path, attr.value, value)
            )
    return len(matches), splices
