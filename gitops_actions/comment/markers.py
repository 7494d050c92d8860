"""The hidden HTML comments that find our comment again and record whose it is.

The first line of every part is ``<!-- gitops-actions:diff:TARGET -->``; the second
records the head commit, the run that wrote it and, when split, the part::

    <!-- gitops-actions:head:SHA --><!-- gitops-actions:run:57 --><!-- gitops-actions:part:2/3 -->
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_FIELD = re.compile(r"<!-- gitops-actions:(head|run|part):([^ ]+) -->")
_PART = re.compile(r"(\d+)/(\d+)")


def clean_target(target: str) -> str:
    """A target safe in an HTML comment and a file name: ``apps/shop`` is ``apps-shop``."""
    return _UNSAFE.sub("-", target).strip("-.") or "default"


def marker(target: str) -> str:
    return f"<!-- gitops-actions:diff:{clean_target(target)} -->"


def stale_marker(target: str) -> str:
    """What a leftover part carries once emptied, so that it is never matched again."""
    return f"<!-- gitops-actions:stale:{clean_target(target)} -->"


@dataclass(frozen=True)
class Stamp:
    """What a part records about the run that wrote it."""

    head: str | None = None
    run: int | None = None
    part: int = 1
    parts: int = 1

    def line(self) -> str:
        fields = [("head", self.head), ("run", None if self.run is None else str(self.run))]
        if self.parts > 1:
            fields.append(("part", f"{self.part}/{self.parts}"))
        return "".join(f"<!-- gitops-actions:{k}:{v} -->" for k, v in fields if v)


def header(target: str, stamp: Stamp) -> str:
    """The hidden lines every part starts with."""
    line = stamp.line()
    return marker(target) + "\n" + (line + "\n" if line else "")


def read_stamp(body: str) -> Stamp:
    """The stamp of a part we wrote; missing fields stay unknown, the part defaults to 1/1."""
    found = dict(_FIELD.findall("\n".join(body.splitlines()[:3])))
    run = found.get("run", "")
    part = _PART.fullmatch(found.get("part", ""))
    return Stamp(
        head=found.get("head") or None,
        run=int(run) if run.isdigit() else None,
        part=int(part.group(1)) if part else 1,
        parts=int(part.group(2)) if part else 1,
    )


def is_ours(body: str, target: str) -> bool:
    return marker(target) in body.splitlines()[:3]
