"""What to validate: files, kustomizations and Helm charts found under the given paths.

A directory holding a kustomization is rendered, not walked: the files under it are
validated through the render only. The same goes for a chart (a directory with
``Chart.yaml``). Hidden directories (``.git``, ``.github``) are not walked, and symlinks
are not followed.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from gitops_actions.errors import UsageError
from gitops_actions.paths import walk

KUSTOMIZATION_FILES = ("kustomization.yaml", "kustomization.yml", "Kustomization")
CHART_FILE = "Chart.yaml"
EXTENSIONS = (".yaml", ".yml", ".json")


@dataclass
class Inputs:
    files: list[str] = field(default_factory=list)
    kustomizations: list[Path] = field(default_factory=list)  # directories
    charts: list[Path] = field(default_factory=list)  # directories


def kustomization_file(directory: Path) -> Path | None:
    for name in KUSTOMIZATION_FILES:
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def discover(paths: Sequence[str]) -> Inputs:
    """Walk ``paths`` in a stable order; a path that does not exist is a usage error.

    Paths keep the spelling the user gave (``./apps/x.yaml`` is ``apps/x.yaml``); one
    reached twice, through two overlapping arguments, is taken once.
    """
    found = Inputs()
    for text in paths:
        path = Path(text)
        if path.is_file():
            if path.name in KUSTOMIZATION_FILES:
                found.kustomizations.append(path.parent)
            elif path.name == CHART_FILE:
                found.charts.append(path.parent)
            else:
                found.files.append(os.path.normpath(text))
            continue
        if not path.is_dir():
            raise UsageError(f"{text}: no such file or directory")
        top = os.path.normpath(text)
        skip = len(top) + 1 if top == "." else 0  # "./apps" is "apps"
        for root, dirs, files in walk(top):  # no symlink followed out of the tree
            names = set(files)
            here = root[skip:] or "."
            if not names.isdisjoint(KUSTOMIZATION_FILES):
                found.kustomizations.append(Path(here))
                dirs[:] = []
                continue
            if CHART_FILE in names:
                found.charts.append(Path(here))
                dirs[:] = []
                continue
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            prefix = "" if here == "." else here + os.sep
            found.files.extend(
                prefix + name
                for name in sorted(files)
                if name.endswith(EXTENSIONS) and not name.startswith(".")
            )
    if len(paths) > 1:  # overlapping arguments: keep the first of each
        found.files = _unique(found.files)
        found.kustomizations = [Path(p) for p in _unique(map(str, found.kustomizations))]
        found.charts = [Path(p) for p in _unique(map(str, found.charts))]
    return found


def _unique(paths: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for path in paths:
        key = os.path.abspath(path)
        if key not in seen:
            seen.add(key)
            out.append(path)
    return out
