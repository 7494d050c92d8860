"""Secrets the run has learned, and the redaction applied to everything this tool prints.

The redactor is process-wide on purpose: a token learned anywhere (an option, an
environment variable, a derived basic-auth header) must be hidden everywhere (logs,
errors, step outputs, summaries, subprocess output quoted in an error).
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary words

# Environment variables whose values are secrets wherever they come from.
SECRET_ENV = (
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "GITLAB_TOKEN",
    "CI_JOB_TOKEN",
    "CI_REGISTRY_PASSWORD",
    "ACTIONS_RUNTIME_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
)
_SECRET_NAME = re.compile(r"^GITOPS_\w*(TOKEN|PASSWORD|SECRET|KEY)\w*$")


class Redactor:
    """Replaces every known secret (and its common encodings) with ``***``."""

    def __init__(self) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._listeners: list[Callable[[str], None]] = []

    def learn(self, value: str | None) -> None:
        """Remember a secret; its lines, base64 and URL-quoted forms are hidden too."""
        if not value:
            return
        forms = {value, *value.splitlines()}
        forms.add(base64.b64encode(value.encode()).decode())
        new = {f.strip() for f in forms if len(f.strip()) >= MIN_SECRET_LENGTH} - self._secrets
        if not new:
            return
        self._secrets |= new
        ordered = sorted(self._secrets, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
        for secret in sorted(new):
            for listener in self._listeners:
                listener(secret)

    def learn_env(self, env: Mapping[str, str]) -> None:
        for name, value in env.items():
            if name in SECRET_ENV or _SECRET_NAME.match(name):
                self.learn(value)

    def on_learn(self, listener: Callable[[str], None]) -> None:
        """Call ``listener`` for each secret already known and each one learned later."""
        self._listeners.append(listener)
        for secret in sorted(self._secrets):
            listener(secret)

    def redact(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(MASK, text)

    def known(self) -> Iterable[str]:
        return frozenset(self._secrets)

    def forget_all(self) -> None:
        self._secrets.clear()
        self._pattern = None
        self._listeners.clear()


REDACTOR = Redactor()


def redact(text: str) -> str:
    return REDACTOR.redact(text)


class TextSink(Protocol):
    def write(self, text: str, /) -> int: ...

    def flush(self) -> None: ...


class RedactingStream(io.TextIOBase):
    """A text stream that redacts whole lines before passing them on.

    Buffering up to the newline means a secret written in two pieces is still caught.
    """

    def __init__(self, inner: TextSink, redactor: Redactor = REDACTOR) -> None:
        self.inner = inner
        self._redactor = redactor
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        if "\n" in self._pending:
            complete, _, self._pending = self._pending.rpartition("\n")
            self.inner.write(self._redactor.redact(complete + "\n"))
        return len(text)

    def write_raw(self, text: str) -> None:
        """Bypass redaction: only for ``::add-mask::``, which must carry the secret."""
        self.flush()
        self.inner.write(text)
        self.inner.flush()

    def flush(self) -> None:
        if self._pending:
            self.inner.write(self._redactor.redact(self._pending))
            self._pending = ""
        self.inner.flush()

    def isatty(self) -> bool:
        return bool(getattr(self.inner, "isatty", lambda: False)())

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.inner, "encoding", "utf-8")
