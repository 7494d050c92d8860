"""CI dialects: GitHub Actions, GitLab CI and a plain terminal.

Each dialect owns step outputs, the step summary, annotations, log folding and secret
masking. Steps talk to a ``Dialect`` and never print workflow commands themselves.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets as random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gitops_actions.errors import UsageError
from gitops_actions.secrets import REDACTOR, RedactingStream, Redactor, TextSink

Level = Literal["error", "warning", "notice"]

SUMMARY_LIMIT = 1024 * 1024  # GitHub refuses a step summary over 1 MiB
DOTENV_LIMIT = 5 * 1024  # GitLab's default dotenv size limit
DOTENV_PREFIX = "GITOPS_OUT_"


@dataclass(frozen=True)
class Annotation:
    level: Level
    message: str
    file: str | None = None
    line: int | None = None
    col: int | None = None
    title: str | None = None


def escape_data(text: str) -> str:
    """GitHub workflow-command escaping for the message part."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """GitHub workflow-command escaping for ``key=value`` properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def fit_summary(markdown: str, room: int) -> str:
    """Cut ``markdown`` at a line boundary so that it takes at most ``room`` bytes."""
    data = markdown.encode()
    if len(data) <= room:
        return markdown
    note = "\n\n> Summary truncated: it would exceed the 1 MiB step-summary limit.\n"
    budget = max(0, room - len(note.encode()))
    cut = data[:budget].decode(errors="ignore")
    cut = cut[: cut.rfind("\n") + 1] if "\n" in cut else ""
    return cut + note if budget else ""


class Dialect:
    """The plain terminal: outputs and annotations printed, summary to a file if asked."""

    name = "terminal"

    def __init__(
        self,
        env: Mapping[str, str],
        out: TextSink,
        *,
        err: TextSink | None = None,
        summary_file: str | None = None,
        dotenv_file: str | None = None,
        redactor: Redactor = REDACTOR,
    ) -> None:
        self.env = env
        self.out = out if isinstance(out, RedactingStream) else RedactingStream(out, redactor)
        if err is None:
            self.err = self.out
        else:
            self.err = err if isinstance(err, RedactingStream) else RedactingStream(err, redactor)
        self.logs = self.out  # where logs, outputs and CI commands go
        self.summary_file = summary_file
        self.dotenv_file = dotenv_file
        self.redactor = redactor
        self.outputs: dict[str, str] = {}
        redactor.on_learn(self.mask)

    # -- logging -------------------------------------------------------------------------
    def reserve_stdout(self) -> None:
        """A document goes to stdout: from now on everything else goes to stderr."""
        self.out.flush()
        self.logs = self.err

    def log(self, message: str) -> None:
        self.logs.write(message + "\n")
        self.logs.flush()

    def mask(self, secret: str) -> None:
        """Hide a secret in everything printed; GitHub also gets ``::add-mask::``."""

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.log(f"== {title}")
        yield

    def annotate(self, note: Annotation) -> None:
        where = ""
        if note.file:
            where = note.file + (f":{note.line}" if note.line else "")
            where += f":{note.col}" if note.line and note.col else ""
            where += ": "
        title = f"{note.title}: " if note.title else ""
        self.log(f"{where}{note.level}: {title}{note.message}")

    # -- outputs and summary -------------------------------------------------------------
    def set_output(self, name: str, value: str) -> None:
        value = self.redactor.redact(value)
        self.outputs[name] = value
        self._write_output(name, value)

    def _write_output(self, name: str, value: str) -> None:
        if "\n" in value:
            self.log(f"output {name}:")
            for line in value.splitlines():
                self.log(f"  {line}")
        else:
            self.log(f"output {name}={value}")

    def write_summary(self, markdown: str) -> None:
        if self.summary_file:
            append_summary(Path(self.summary_file), self.redactor.redact(markdown))

    def earlier_output(self, name: str) -> str:
        """Output ``name`` of an earlier step of this job (or, through GitLab's dotenv
        report, of an earlier job), or "": what lets handoff follow bump unasked."""
        return self.env.get(carried_name(name), "")


def carried_name(output: str) -> str:
    """The variable an output travels in to later steps: ``commit`` is GITOPS_OUT_COMMIT."""
    return DOTENV_PREFIX + re.sub(r"[^A-Za-z0-9_]", "_", output).upper()


def append_summary(path: Path, markdown: str) -> None:
    used = path.stat().st_size if path.exists() else 0
    text = fit_summary(
        markdown if markdown.endswith("\n") else markdown + "\n", SUMMARY_LIMIT - used
    )
    if text:
        with path.open("a", encoding="utf-8") as f:
            f.write(text)


class GitHub(Dialect):
    name = "github"

    def mask(self, secret: str) -> None:
        """``::add-mask::`` on stderr, which the runner reads for commands too: stdout may be
        a document redirected to a file, and the command carries the secret itself."""
        for line in secret.splitlines() or [secret]:
            if line.strip():
                self.err.write_raw(f"::add-mask::{escape_data(line)}\n")

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        self.log(f"::group::{escape_data(title)}")
        try:
            yield
        finally:
            self.log("::endgroup::")

    def annotate(self, note: Annotation) -> None:
        props = [
            f"{key}={escape_property(self.redactor.redact(str(value)))}"
            for key, value in (
                ("file", note.file),
                ("line", note.line),
                ("col", note.col),
                ("title", note.title),
            )
            if value is not None
        ]
        head = f"::{note.level} {','.join(props)}" if props else f"::{note.level}"
        self.log(f"{head}::{escape_data(self.redactor.redact(note.message))}")

    def _write_output(self, name: str, value: str) -> None:
        path = self.env.get("GITHUB_OUTPUT")
        if not path:
            super()._write_output(name, value)
            return
        if "\n" in value or "\r" in value:
            delimiter = f"ghadelimiter_{random.token_hex(16)}"
            while delimiter in value:
                delimiter = f"ghadelimiter_{random.token_hex(16)}"
            record = f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
        else:
            record = f"{name}={value}\n"
        with open(path, "a", encoding="utf-8") as f:
            f.write(record)
        carry = self._carry_file()
        if carry is not None:  # for later steps of the job; their environment stays as it is
            write_dotenv(carry, carried_name(name), value)

    def _carry_file(self) -> Path | None:
        """The job's own record of outputs, in the runner's per-job temporary directory."""
        temp = self.env.get("RUNNER_TEMP")
        return Path(temp) / "gitops-outputs.env" if temp else None

    def earlier_output(self, name: str) -> str:
        """Also from this job's record of outputs, written by an earlier step."""
        return read_dotenv(self._carry_file(), name) or super().earlier_output(name)

    def write_summary(self, markdown: str) -> None:
        path = self.env.get("GITHUB_STEP_SUMMARY")
        if path:
            append_summary(Path(path), self.redactor.redact(markdown))
        super().write_summary(markdown)


_SECTION_NAME = re.compile(r"[^A-Za-z0-9_.-]+")


class GitLab(Dialect):
    name = "gitlab"

    def __init__(self, env: Mapping[str, str], out: TextSink, **kwargs: object) -> None:
        super().__init__(env, out, **kwargs)  # type: ignore[arg-type]
        self._sections = 0

    @contextlib.contextmanager
    def group(self, title: str) -> Iterator[None]:
        self._sections += 1
        name = f"gitops_{self._sections}_{_SECTION_NAME.sub('_', title).strip('_')[:40]}"
        self.log(f"\x1b[0Ksection_start:{int(time.time())}:{name}[collapsed=true]\r\x1b[0K{title}")
        try:
            yield
        finally:
            self.log(f"\x1b[0Ksection_end:{int(time.time())}:{name}\r\x1b[0K")

    def _write_output(self, name: str, value: str) -> None:
        super()._write_output(name, value)
        if not self.dotenv_file:
            return
        key = carried_name(name)
        path = Path(self.dotenv_file)
        write_dotenv(path, key, value)
        if path.stat().st_size > DOTENV_LIMIT:
            self.log(f"warning: {path} is over GitLab's default 5 KB dotenv limit")

    def earlier_output(self, name: str) -> str:
        """Also from this job's own dotenv report, written by an earlier step."""
        path = Path(self.dotenv_file) if self.dotenv_file else None
        return read_dotenv(path, name) or super().earlier_output(name)


def read_dotenv(path: Path | None, output: str) -> str:
    """Output ``output`` as ``write_dotenv`` recorded it in ``path``, or ""."""
    if path is None or not path.is_file():
        return ""
    key = carried_name(output) + "="
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(key):
            return line[len(key) :].replace("\\n", "\n")
    return ""


def write_dotenv(path: Path, key: str, value: str) -> None:
    """Set one variable in a GitLab dotenv report, keeping the others.

    GitLab takes one ``KEY=VALUE`` per line with no quoting and no multi-line values,
    so line breaks are written as the two characters ``\\n``.
    """
    entries: dict[str, str] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            k, sep, v = line.partition("=")
            if sep:
                entries[k] = v
    entries[key] = value.replace("\r", "").replace("\n", "\\n")
    text = "".join(f"{k}={v}\n" for k, v in entries.items())
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


DIALECTS: dict[str, type[Dialect]] = {"terminal": Dialect, "github": GitHub, "gitlab": GitLab}


def detect(env: Mapping[str, str], choice: str = "auto") -> type[Dialect]:
    """The dialect named by ``choice``, or the one the environment says we run in."""
    if choice != "auto":
        try:
            return DIALECTS[choice]
        except KeyError:
            raise UsageError(
                f"unknown CI dialect {choice!r}", hint="use auto, github, gitlab or terminal"
            ) from None
    if env.get("GITHUB_ACTIONS") == "true":
        return GitHub
    if env.get("GITLAB_CI") == "true":
        return GitLab
    return Dialect
