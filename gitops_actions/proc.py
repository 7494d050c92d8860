"""The one place that runs subprocesses."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gitops_actions.errors import ExternalError
from gitops_actions.secrets import redact

OUTPUT_TAIL = 2000  # characters of captured output quoted in an error


@dataclass(frozen=True)
class Completed:
    cmd: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str


class ProcessFailed(ExternalError):
    def __init__(self, cmd: Sequence[str], returncode: int, stdout: str, stderr: str) -> None:
        output = (stderr.strip() or stdout.strip())[-OUTPUT_TAIL:]
        text = f"`{shlex.join(cmd)}` exited with {returncode}"
        if output:
            text += ": " + " | ".join(output.splitlines()[-6:])
        super().__init__(redact(text))
        self.cmd = tuple(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def _spawn(
    cmd: Sequence[str],
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    timeout: float | None,
    input: str | bytes | None,
    text: bool,
) -> subprocess.CompletedProcess[Any]:
    try:
        return subprocess.run(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            input=input,
            capture_output=True,
            text=text,
            timeout=timeout,
            check=False,
            stdin=None if input is not None else subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise ExternalError(f"{cmd[0]}: program not found", transient=False) from None
    except subprocess.TimeoutExpired:
        raise ExternalError(f"`{redact(shlex.join(cmd))}` timed out after {timeout}s") from None


def run(
    cmd: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 300,
    input: str | None = None,
    check: bool = True,
) -> Completed:
    """Run ``cmd`` and capture its output as text.

    Raises ``ProcessFailed`` (secrets masked) on a non-zero exit when ``check`` is set,
    and ``ExternalError`` when the program is missing or the timeout passes.
    """
    proc = _spawn(cmd, cwd, env, timeout, input, text=True)
    if check and proc.returncode != 0:
        raise ProcessFailed(cmd, proc.returncode, proc.stdout, proc.stderr)
    return Completed(tuple(cmd), proc.returncode, proc.stdout, proc.stderr)


def run_binary(
    cmd: Sequence[str],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 300,
    input: bytes | None = None,
) -> bytes:
    """Like ``run`` for programs whose output is bytes (``git cat-file``, ``git archive``)."""
    proc = _spawn(cmd, cwd, env, timeout, input, text=False)
    if proc.returncode != 0:
        raise ProcessFailed(cmd, proc.returncode, "", proc.stderr.decode(errors="replace"))
    stdout: bytes = proc.stdout
    return stdout
