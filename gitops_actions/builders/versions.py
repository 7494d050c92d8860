"""Version strings for tag rules: semver (as node-semver reads it) and PEP 440 (cleaned).

Each parser gives the fields a rule's pattern may use (``raw``, ``version``, ``major``,
``minor``, ``patch``) and whether the version is a final release: pre-releases (and, for
PEP 440, dev and post releases) only ever give their full version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_SEMVER = (
    r"^[v=\s]*(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_PEP440 = (
    r"^\s*v?(?:(?P<epoch>\d+)!)?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>\d+)?)?"
    r"(?:-(?P<post_n1>\d+)|[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>\d+)?)?"
    r"(?:[-_.]?(?P<dev_l>dev)[-_.]?(?P<dev_n>\d+)?)?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$"
)
_PRE = {"alpha": "a", "a": "a", "beta": "b", "b": "b", "c": "rc", "rc": "rc"}


@dataclass(frozen=True)
class Version:
    raw: str
    version: str  # cleaned, with any pre-release
    major: int
    minor: int
    patch: int
    release: bool  # a final release (no pre-, dev or post release)

    def fields(self) -> dict[str, str]:
        return {
            "raw": self.raw,
            "version": self.version,
            "major": str(self.major),
            "minor": str(self.minor),
            "patch": str(self.patch),
        }


def semver(text: str) -> Version | None:
    """``v1.2.3``, ``1.2.3-rc.1+build``; None when it is not a valid semver."""
    found = re.match(_SEMVER, text)  # compiled on first use: most builds never need it
    if not found:
        return None
    major, minor, patch = (int(found.group(k)) for k in ("major", "minor", "patch"))
    pre = found.group("pre")
    version = f"{major}.{minor}.{patch}" + (f"-{pre}" if pre else "")
    return Version(text, version, major, minor, patch, release=not pre)


def pep440(text: str) -> Version | None:
    """``1.2.3``, ``v1.2.3rc2``, ``1.2.3post1`` (cleaned to ``1.2.3.post1``); None when the
    text does not conform to PEP 440."""
    found = re.match(_PEP440, text, re.IGNORECASE)
    if not found:
        return None
    parts = found.groupdict()
    release = [int(n) for n in str(parts["release"]).split(".")]
    clean = ".".join(str(n) for n in release)
    if parts["epoch"] and int(parts["epoch"]):
        clean = f"{int(parts['epoch'])}!{clean}"
    label = str(parts["pre_l"] or "").lower()
    if label:
        clean += _PRE.get(label, "rc") + str(int(parts["pre_n"] or 0))
    post = parts["post_n1"] or (parts["post_n2"] or "0" if parts["post_l"] else None)
    if post is not None:
        clean += f".post{int(post)}"
    if parts["dev_l"]:
        clean += f".dev{int(parts['dev_n'] or 0)}"
    if parts["local"]:
        clean += "+" + re.sub(r"[-_]", ".", str(parts["local"]).lower())
    major, minor, patch = [*release, 0, 0][:3]
    final = not (label or post is not None or parts["dev_l"])
    return Version(text, clean, major, minor, patch, release=final)
