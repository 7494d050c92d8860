"""Run the CLI on hostile input as a pipeline would, bounded, and judge what it left.

Each case is a subprocess with a wall-clock deadline and a cap on its address space. It
must end with a known exit code (never 70, never killed), print no traceback, say what
went wrong in one line, write nothing it was not asked to, and show no secret anywhere:
not on stdout or stderr, not in a file it wrote. The environment carries canary tokens,
and inputs may plant more.
"""

from __future__ import annotations

import base64
import json
import os
import resource
import stat
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from support import base_env

SECONDS = 30  # per case, also on a loaded machine
MEMORY = 1536 * 2**20  # address space per case
READ_BACK = 64 * 2**20  # of each file written, searched for secrets
LONGEST = 1000  # characters of the error line (a renderer's own message is quoted whole)
CANARY = {
    "GITHUB_TOKEN": "ghs_C4n4ryT0kenXq8Zr2Lm7Yv5Wp3Nt",
    "GITLAB_TOKEN": "glpat-C4n4ry-Gl-Tok3n-9f8e7d",
    "GITOPS_GIT_TOKEN": "multi-line-canary-1\nmulti-line-canary-2",
}


def forms(secret: str) -> set[str]:
    """How a secret may show: as it is, each line, base64 of each, and as JSON holds each."""
    values = {secret, *(line for line in secret.splitlines() if len(line.strip()) >= 4)}
    found = values | {base64.b64encode(v.encode()).decode() for v in values}
    found |= {json.dumps(v)[1:-1] for v in values}
    return found | {json.dumps(v, ensure_ascii=False)[1:-1] for v in values}


@dataclass
class Run:
    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    seconds: float
    written: dict[str, bytes] = field(default_factory=dict)  # new or changed files

    def shows(self, secrets: Iterable[str]) -> list[str]:
        """Every form of ``secrets`` found in the output or in a file written."""
        texts = [
            self.stdout,
            self.stderr,
            *(d.decode(errors="replace") for d in self.written.values()),
        ]
        return sorted({f for s in secrets for f in forms(s) if any(f in t for t in texts)})


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, MEMORY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _files(root: Path) -> dict[str, tuple[int, ...]]:
    """Regular files under ``root`` and how they stand (a huge input is not read)."""
    found = {}
    for folder, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git"]
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            if stat.S_ISREG(info.st_mode):
                rel = os.path.relpath(os.path.join(folder, name), root)
                found[rel] = (info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)
    return found


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(READ_BACK)


def run(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    watch: Sequence[Path] = (),
    seconds: float = SECONDS,
) -> Run:
    """``gitops-actions ARGS`` in ``cwd``, bounded; files new or changed under ``cwd`` and
    ``watch`` are collected."""
    roots = [cwd, *watch]
    before = {root: _files(root) for root in roots}
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "gitops_actions", *args],
        cwd=cwd,
        env={**base_env(), **CANARY, **(env or {})},
        capture_output=True,
        timeout=seconds,
        preexec_fn=_limit,
        check=False,
    )
    took = time.monotonic() - started
    written = {}
    for root in roots:
        for rel, digest in _files(root).items():
            if before[root].get(rel) != digest:
                written[str(root / rel)] = _head(root / rel)
    out, err = (b.decode("utf-8", errors="replace") for b in (proc.stdout, proc.stderr))
    return Run(tuple(args), proc.returncode, out, err, took, written)


def judge(
    result: Run,
    *,
    codes: Iterable[int] = (0, 1, 2),
    secrets: Iterable[str] = (),
    writes: bool = False,
) -> None:
    """The rules every hostile case obeys; ``writes`` allows files to be written."""
    command = " ".join(arg[:60] for arg in result.args)
    context = f"{command}\nstdout: {result.stdout[-2000:]}\nstderr: {result.stderr[-2000:]}"
    assert result.code in tuple(codes), f"exit {result.code}\n{context}"
    assert "Traceback" not in result.stderr + result.stdout, context
    if result.code not in (0, 1):
        lines = [line for line in result.stderr.splitlines() if ": error: " in line]
        assert len(lines) == 1, f"not one error line\n{context}"
        assert len(lines[0]) <= LONGEST, f"error line of {len(lines[0])} characters\n{context}"
    leaked = result.shows([*CANARY.values(), *secrets])
    assert not leaked, f"secret shown: {leaked}\n{context}"
    if not writes:
        assert not result.written, f"wrote {sorted(result.written)}\n{context}"
