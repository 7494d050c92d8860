"""Plan a bump over a config tree: which files change, to what bytes, and why. Pure
apart from reading files; writing them is the writer's job."""

from __future__ import annotations

import fnmatch
import itertools
import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops_actions.edit import hcl, keypath, semver
from gitops_actions.edit.artifacts import ArtifactPlanner, helm_repositories
from gitops_actions.edit.images import KUSTOMIZATION_NAMES, Hit, Planner
from gitops_actions.edit.markers import plan_setters
from gitops_actions.edit.source import Source, Splice
from gitops_actions.errors import CheckFailed, InputError, UsageError
from gitops_actions.imageref import ImageRef

YAML_SUFFIXES = (".yaml", ".yml")
HCL_SUFFIXES = (".tfvars", ".tf", ".hcl")
MAX_FILE_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class SetValue:
    """``--set FILE:PATH=VALUE``."""

    file: str
    path: str
    value: str

    @classmethod
    def parse(cls, text: str) -> SetValue:
        file, colon, rest = text.partition(":")
        depth, quote, split = 0, "", -1
        for index, char in enumerate(rest):  # the first = outside [..] and quotes
            if quote:
                quote = "" if char == quote else quote
            elif char in "\"'":
                quote = char
            elif char in "[]":
                depth += 1 if char == "[" else -1
            elif char == "=" and depth == 0:
                split = index
                break
        if not (colon and file and split > 0):
            raise UsageError(f"--set {text!r}: expected FILE:PATH=VALUE")
        return cls(file, rest[:split], rest[split + 1 :])


@dataclass(frozen=True)
class Request:
    images: tuple[ImageRef, ...] = ()
    setters: Mapping[str, ImageRef] = field(default_factory=dict)
    sets: tuple[SetValue, ...] = ()
    files: tuple[str, ...] = ()  # globs that narrow the search
    allow_downgrade: bool = False
    force_pin: bool = False  # replace a semver range with the exact version


@dataclass(frozen=True)
class FileChange:
    path: str
    before: bytes
    after: bytes


@dataclass(frozen=True)
class Plan:
    hits: tuple[Hit, ...]
    changes: tuple[FileChange, ...]
    found: int  # places found, changed or not
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)

    @property
    def files(self) -> tuple[str, ...]:
        return tuple(c.path for c in self.changes)


def _selected(rel: str, globs: tuple[str, ...]) -> bool:
    return not globs or any(fnmatch.fnmatchcase(rel, g) for g in globs)


def iter_files(root: Path, globs: tuple[str, ...] = ()) -> Iterator[str]:
    """Relative paths of YAML files under ``root``: no symlinks followed, no ``.git``."""
    stack = [(str(root), "")]
    while stack:
        folder, prefix = stack.pop()
        with os.scandir(folder) as entries:
            ordered = sorted(entries, key=lambda e: e.name)
        for entry in reversed(ordered):
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name != ".git":
                    stack.append((entry.path, f"{prefix}{entry.name}/"))
                continue
        for entry in ordered:
            name = entry.name
            if entry.is_symlink() or not (name.endswith(YAML_SUFFIXES) or name == "Kustomization"):
                continue
            rel = prefix + name
            if entry.is_file() and _selected(rel, globs):
                yield rel


def inside(root: Path, rel: str) -> Path:
    """``root/rel``, refusing absolute paths, ``..`` escapes and symlinks on the way."""
    if os.path.isabs(rel) or ".." in Path(rel).parts:
        raise InputError("path leaves the repository", path=rel)
    full = root / rel
    real_root = os.path.realpath(root)
    if os.path.realpath(full) != os.path.join(real_root, os.path.normpath(rel)):
        raise InputError("path goes through a symlink; refusing to follow it", path=rel)
    return full


def read(root: Path, rel: str) -> bytes:
    """A file named on the command line (``--set``): inside ``root``, regular, bounded."""
    try:
        return read_regular(inside(root, rel), rel)
    except FileNotFoundError:
        raise InputError("no such file", path=rel) from None


def read_regular(path: str | os.PathLike[str], rel: str) -> bytes:
    """The bytes of a regular file, at most ``MAX_FILE_BYTES``. Opened without blocking
    and without following a symlink, then checked: a FIFO or device is never read."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if isinstance(err, FileNotFoundError):
            raise
        raise InputError(f"cannot read it: {err.strerror or err}", path=rel) from None
    with open(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputError("not a regular file; refusing to read it", path=rel)
        if info.st_size > MAX_FILE_BYTES:
            raise InputError(f"larger than {MAX_FILE_BYTES // 2**20} MiB", path=rel)
        return f.read(MAX_FILE_BYTES + 1)


def _read_scanned(root: Path, rel: str) -> bytes:
    """A file ``iter_files`` found (so no symlink on the way): read it, bounded."""
    return read_regular(os.path.join(root, rel), rel)


def _merge(path: str, splices: list[Splice]) -> list[Splice]:
    """Drop duplicates of the same edit; refuse two different edits of one span."""
    by_span: dict[tuple[int, int], Splice] = {}
    for splice in splices:
        known = by_span.get((splice.start, splice.end))
        if known and known.new != splice.new:
            raise InputError(
                f"two edits disagree: {known.what} and {splice.what}", path=path, line=splice.line
            )
        by_span[(splice.start, splice.end)] = splice
    ordered = sorted(by_span.values(), key=lambda s: (s.start, s.end))
    for a, b in itertools.pairwise(ordered):
        if b.start < a.end:
            raise InputError(f"overlapping edits: {a.what} and {b.what}", path=path, line=b.line)
    return ordered


def plan(root: Path, request: Request) -> Plan:
    """Find every target under ``root`` and compute the new bytes of each changed file."""
    hits: list[Hit] = []
    per_file: dict[str, tuple[bytes, Source | None, list[Splice]]] = {}
    needles = {r.short_name.encode() for r in request.images}
    found = 0
    if request.images or request.setters:
        candidates: list[tuple[Source, bytes]] = []
        helm_repos: dict[tuple[str, str], str] = {}
        for rel in iter_files(root, request.files):
            data = _read_scanned(root, rel)
            wanted = any(n in data for n in needles) or (
                request.setters and b"$imagepolicy" in data
            )
            if not wanted and not (needles and b"HelmRepository" in data):
                continue
            source = Source(rel, data)
            helm_repos |= helm_repositories(source)
            if wanted:
                candidates.append((source, data))
        for source, data in candidates:
            file_hits = plan_setters(source, dict(request.setters))
            kustomization = source.path.rsplit("/", 1)[-1] in KUSTOMIZATION_NAMES
            for ref in request.images:
                planner = Planner(source, ref)
                planner.plan(kustomization=kustomization)
                ArtifactPlanner(planner, helm_repos, force_pin=request.force_pin).plan(
                    kustomization=kustomization
                )
                file_hits += planner.hits
            hits += file_hits
            splices = [s for h in file_hits for s in h.splices]
            per_file[source.path] = (data, source, splices)
    for item in request.sets:
        data, known, splices = per_file.get(item.file) or (read(root, item.file), None, [])
        if item.file.endswith(HCL_SUFFIXES):
            count, new = hcl.plan_hcl(item.file, _text(item.file, data), item.path, item.value)
        else:
            known = known or Source(item.file, data)
            count, new = keypath.plan_path(known, item.path, item.value)
        if count == 0:
            raise CheckFailed(f"{item.file}: no {item.path} found")
        found += count
        per_file[item.file] = (data, known, splices + new)
    found += len(hits)
    _refuse_downgrades(hits, request.allow_downgrade)
    changes = []
    for rel, (data, parsed, splices) in per_file.items():
        merged = _merge(rel, splices)
        if merged:
            after = parsed.apply(merged) if parsed else _apply_text(data, merged)
            if after != data:
                changes.append(FileChange(rel, data, after))
    notes = tuple(n for h in hits for n in h.notes)
    return Plan(tuple(hits), tuple(changes), found, notes)


def _text(path: str, data: bytes) -> str:
    try:
        return data.decode()
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 text (byte {err.start})", path=path) from None


def _apply_text(data: bytes, splices: list[Splice]) -> bytes:
    text = data.decode()
    for splice in reversed(splices):
        text = text[: splice.start] + splice.new + text[splice.end :]
    return text.encode()


def _refuse_downgrades(hits: list[Hit], allowed: bool) -> None:
    if allowed:
        return
    for hit in hits:
        if hit.splices and semver.is_downgrade(hit.old.tag, hit.new.tag):
            raise CheckFailed(
                f"{hit.path}:{hit.line}: refusing to downgrade {hit.old.repository} from "
                f"{hit.old.tag} to {hit.new.tag}",
                hint="pass --allow-downgrade to do it anyway",
            )
