"""The one place that runs subprocesses."""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
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
        text = f"{_what(cmd)} exited with {returncode}"
        if output:
            text += ": " + " | ".join(output.splitlines()[-6:])
        super().__init__(redact(text))
        self.debug = redact(f"command: {shlex.join(cmd)}")
        self.cmd = tuple(cmd)
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


def _what(cmd: Sequence[str]) -> str:
    """The program and, for git, its verb: ``git push``. The whole command line is for
    ``--debug`` (the traceback), not for the one error line."""
    words = [Path(cmd[0]).name] if cmd else ["?"]
    if words[0] == "git":
        words += [w for w in cmd[1:] if not w.startswith("-")][:1]
    return " ".join(words)


def _popen(
    cmd: Sequence[str],
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    input: str | bytes | None,
    **output: Any,
) -> subprocess.Popen[Any]:
    """Start ``cmd`` with stdout piped, in its own process group (``_kill`` ends it all)."""
    try:
        return subprocess.Popen(
            list(cmd),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            start_new_session=True,
            **output,
        )
    except FileNotFoundError:
        raise ExternalError(f"{cmd[0]}: program not found", transient=False) from None


def _kill(proc: subprocess.Popen[Any]) -> None:
    """Kill ``proc`` and everything it started (git's remote helpers, ssh)."""
    with contextlib.suppress(OSError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        proc.kill()


def _spawn(
    cmd: Sequence[str],
    cwd: str | os.PathLike[str] | None,
    env: Mapping[str, str] | None,
    timeout: float | None,
    input: str | bytes | None,
    text: bool,
) -> subprocess.CompletedProcess[Any]:
    """Run ``cmd`` in its own process group, so that at the timeout the group is killed:
    a grandchild holding the pipes (git-remote-https) cannot keep us waiting."""
    proc = _popen(cmd, cwd, env, input, stderr=subprocess.PIPE, text=text)
    try:
        stdout, stderr = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill(proc)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.communicate(timeout=5)
        raise ExternalError(
            f"{_what(cmd)} did not finish within {timeout:.1f}s", hint="raise --timeout"
        ) from None
    except BaseException:  # interrupted: take the children along
        _kill(proc)
        proc.wait()
        raise
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


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


def stream(
    cmd: Sequence[str],
    on_line: Callable[[str], None],
    *,
    cwd: str | os.PathLike[str] | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = 3600,
    input: str | None = None,
) -> int:
    """Run ``cmd`` and hand each line of its output (stdout and stderr merged) to ``on_line``
    as it comes; return the exit code. For long runs whose log must be seen live (builds).

    Raises ``ExternalError`` when the program is missing or the timeout passes.
    """
    proc = _popen(
        cmd, cwd, env, input, stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1
    )
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        _kill(proc)

    timer = threading.Timer(timeout, kill) if timeout else None
    if timer is not None:
        timer.start()
    try:
        if input is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(input)
            proc.stdin.close()
        assert proc.stdout is not None
        for line in proc.stdout:
            on_line(line.rstrip("\n"))
        returncode = proc.wait()
    finally:
        if timer is not None:
            timer.cancel()
        if proc.poll() is None:
            _kill(proc)
            proc.wait()
    if expired.is_set():
        raise ExternalError(
            f"{_what(cmd)} did not finish within {timeout}s", hint="raise --timeout"
        )
    return returncode
