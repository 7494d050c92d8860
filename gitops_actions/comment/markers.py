"""The hidden HTML comments that find our comment again and record whose it is.

The first line of every part is ``<!-- gitops-actions:diff:TARGET -->``; the second
records the head commit, the run that wrote it and, when split, the part::

    <!-- gitops-actions:head:SHA --><!-- gitops-actions:run:57 --><!-- gitops-actions:part:2/3 -->

Markers are unforgeable by content: only those two lines are read, each must match
exactly, every field in them is checked (a hex commit, a number, a clean target), and
marker syntax inside a body is neutralised before it is posted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops_actions.errors import InputError

NAMESPACE = "gitops-actions"
MAX_TARGET = 100  # characters of a cleaned target
MAX_RUN = 10**15
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SHA = re.compile(r"[0-9a-f]{4,64}")
_STAMP = re.compile(
    r"(?:<!-- gitops-actions:head:(?P<head>[0-9a-f]{4,64}) -->)?"
    r"(?:<!-- gitops-actions:run:(?P<run>[1-9][0-9]{0,14}) -->)?"
    r"(?:<!-- gitops-actions:part:(?P<part>[1-9][0-9]{0,3})/(?P<parts>[1-9][0-9]{0,3}) -->)?"
)
# An HTML comment opener (also split by blanks, any case) that names our namespace: what
# a forged marker needs. The opener is broken so that it neither hides nor matches.
_FORGED = re.compile(r"<!(--\s*gitops-actions)", re.IGNORECASE)
BREAK = "\u200b"  # zero-width space: the text reads the same, the opener is gone


def clean_target(target: str) -> str:
    """A target safe in an HTML comment and a file name: ``apps/shop`` is ``apps-shop``."""
    return _UNSAFE.sub("-", target).strip("-.") or "default"


def checked_target(target: str, where: str, path: str | None = None) -> str:
    """``target`` cleaned, refused when nothing of it is left or it is too long."""
    cleaned = _UNSAFE.sub("-", target).strip("-.")
    if not cleaned or len(cleaned) > MAX_TARGET:
        raise InputError(
            f"{where} {target[:40]!r}: not a target name",
            path=path,
            hint=f"use letters, digits, '.', '-' or '_', at most {MAX_TARGET} characters",
        )
    return cleaned


def checked_sha(value: str, where: str, path: str | None = None) -> str:
    """A commit id fit for a marker: 4 to 64 hex digits, in lower case."""
    sha = value.strip().lower()
    if not _SHA.fullmatch(sha):
        shown = repr(value[:80])
        raise InputError(f"{where} {shown}: not a commit id (4 to 64 hex digits)", path=path)
    return sha


def checked_run(value: int, where: str) -> int:
    if isinstance(value, bool) or not 1 <= value < MAX_RUN:
        raise InputError(f"{where} {value!r}: not a run number (1 to {MAX_RUN - 1})")
    return value


def neutralise(text: str) -> str:
    """``text`` with every HTML comment opener that names our namespace broken."""
    return _FORGED.sub(f"<!{BREAK}\\1", text)


def marker(target: str) -> str:
    return f"<!-- {NAMESPACE}:diff:{clean_target(target)} -->"


def stale_marker(target: str) -> str:
    """What a leftover part carries once emptied, so that it is never matched again."""
    return f"<!-- {NAMESPACE}:stale:{clean_target(target)} -->"


@dataclass(frozen=True)
class Stamp:
    """What a part records about the run that wrote it."""

    head: str | None = None
    run: int | None = None
    part: int = 1
    parts: int = 1

    def line(self) -> str:
        head = checked_sha(self.head, "head commit") if self.head else None
        run = None if self.run is None else str(checked_run(self.run, "run number"))
        fields = [("head", head), ("run", run)]
        if self.parts > 1:
            fields.append(("part", f"{self.part}/{self.parts}"))
        return "".join(f"<!-- {NAMESPACE}:{k}:{v} -->" for k, v in fields if v)


def header(target: str, stamp: Stamp) -> str:
    """The hidden lines every part starts with: the marker, then the stamp (even empty,
    so that the body never starts on the stamp's line)."""
    return marker(target) + "\n" + stamp.line() + "\n"


def read_stamp(body: str) -> Stamp:
    """The stamp on the second line of a part we wrote; unknown fields stay unknown.

    A second line that is not exactly a stamp (the body of a part written without one)
    says nothing: the part defaults to 1/1.
    """
    lines = body.splitlines()
    found = _STAMP.fullmatch(lines[1]) if len(lines) > 1 and lines[1] else None
    if found is None:
        return Stamp()
    part, parts = found.group("part"), found.group("parts")
    return Stamp(
        head=found.group("head"),
        run=int(found.group("run")) if found.group("run") else None,
        part=int(part) if part else 1,
        parts=int(parts) if parts else 1,
    )


def is_ours(body: str, target: str) -> bool:
    """The part's first line, and only it, is the target's marker."""
    return body.partition("\n")[0].rstrip("\r") == marker(target)
