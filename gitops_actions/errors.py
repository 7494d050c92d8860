"""One exception root, and the one place that maps errors to exit codes.

Exit codes:
    0  success, including "nothing to change"
    1  the check found problems (validation findings, failed handoff)
    2  bad usage or bad input (options, files)
    3  an external system failed after retries (git remote, registry, forge API, agent)
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_EXTERNAL = 3
EXIT_INTERNAL = 70  # a bug in this tool: rerun with --debug and report the traceback


LINE_LIMIT = 300  # characters of an error line; the middle of a longer one is cut


def cap(text: str, limit: int = LINE_LIMIT) -> str:
    """``text`` on one line of at most ``limit`` characters: a 100 KB argument quoted in a
    message does not print 100 KB. The start and the end (the hint) are kept."""
    line = " ".join(text.split())
    if len(line) <= limit:
        return line
    tail = limit // 3
    return f"{line[: limit - tail - 5]} ... {line[-tail:]}"


class GitopsError(Exception):
    """Root of every error this tool raises on purpose.

    ``transient`` says whether trying again later may succeed (a remote that timed out,
    a rejected push, an HTTP 5xx). ``hint`` says what the user can do about it.
    """

    exit_code = EXIT_USAGE

    def __init__(self, message: str, *, transient: bool = False, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.transient = transient
        self.hint = hint

    debug = ""  # detail for --debug only (a whole command line), never in the error line
    retry_after: float | None = None  # seconds a server asked to wait before trying again

    def one_line(self) -> str:
        text = self.message if not self.hint else f"{self.message} ({self.hint})"
        return cap(text)


class UsageError(GitopsError):
    """Options that do not fit: a missing option, a bad value."""


class InputError(GitopsError):
    """Input the user gave us that we cannot use; names the file and line when known."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
        hint: str = "",
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = path
        self.line = line
        self.column = column

    def one_line(self) -> str:
        where = ""
        if self.path:
            where = self.path
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        return cap(where + super().one_line())


class CheckFailed(GitopsError):
    """The step ran and found problems: validation findings, a handoff that did not converge."""

    exit_code = EXIT_FINDINGS


class ExternalError(GitopsError):
    """An external system failed: git remote, registry, forge API, agent, a subprocess."""

    exit_code = EXIT_EXTERNAL

    def __init__(self, message: str, *, transient: bool = True, hint: str = "") -> None:
        super().__init__(message, transient=transient, hint=hint)


def exit_code_for(error: BaseException) -> int:
    """The exit code for any error that reaches the CLI."""
    if isinstance(error, GitopsError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return 130
    if isinstance(error, OSError) and error.filename:  # a path we were given cannot be used
        return EXIT_USAGE
    return EXIT_INTERNAL
