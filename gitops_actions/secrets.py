"""Secrets the run has learned, and the redaction applied to everything this tool prints.

The redactor is process-wide on purpose: a token learned anywhere (an option, an
environment variable, a derived basic-auth header) must be hidden everywhere (logs,
errors, step outputs, summaries, subprocess output quoted in an error).
"""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

MASK = "***"
MIN_SECRET_LENGTH = 4  # shorter values would blank out ordinary words
MIN_MANIFEST_SECRET = 8  # the same for values read from Secrets in manifests

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
        self._patterns: list[re.Pattern[str]] = []
        self._stale = False  # secrets learned since the pattern was compiled
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str], None]] = []

    def learn(
        self, value: str | None, *, announce: bool = True, shortest: int = MIN_SECRET_LENGTH
    ) -> None:
        """Remember a secret: it is hidden as it is, line by line, in base64 (also inside a
        longer base64 text), URL-quoted and as a JSON string holds it.

        ``announce`` tells the listeners (GitHub's ``::add-mask::``); values read from
        manifests are not announced, so that they are never printed even to be masked.
        """
        if not value:
            return
        with self._lock:
            new = {f for f in _forms(value, shortest) if len(f) >= shortest} - self._secrets
            if not new:
                return
            self._secrets |= new
            self._stale = True  # compiled once, when next needed
        if announce:
            for secret in sorted(new):
                for listener in self._listeners:
                    listener(secret)

    def learn_resources(self, resources: Iterable[object]) -> None:
        """Remember every value of every Secret among ``resources`` (whatever its shape).

        Values shorter than ``MIN_MANIFEST_SECRET`` are not learned: a Secret holding
        ``true`` or ``admin`` would blank those words out of every output. They are still
        hidden in the Secret itself."""
        for resource in resources:
            self.learn_values(secret_values(resource))

    def learn_values(self, values: Iterable[str]) -> None:
        """Remember values read from Secrets in manifests (see ``learn_resources``)."""
        for value in values:
            self.learn(value, announce=False, shortest=MIN_MANIFEST_SECRET)

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
        if self._stale:
            with self._lock:
                if self._stale:
                    self._patterns = _compiled(self._secrets) if self._secrets else []
                    self._stale = False
        for pattern in self._patterns:
            text = pattern.sub(MASK, text)
        return text

    def known(self) -> Iterable[str]:
        return frozenset(self._secrets)

    def forget_all(self) -> None:
        with self._lock:
            self._secrets.clear()
            self._patterns = []
            self._stale = False
        self._listeners.clear()


def _compiled(secrets: Iterable[str]) -> list[re.Pattern[str]]:
    """Patterns for all ``secrets``, each a trie: at each character only the secrets that
    can still match are tried, so thousands of them cost little more than one. A longer
    secret wins over its own prefix. Secrets that are each other's prefixes too many times
    over are split into several tries, the longest secrets first."""
    try:
        return [re.compile(_trie(secrets))]
    except RecursionError:
        ordered = sorted(secrets, key=len, reverse=True)
        chunks = [ordered[i : i + MAX_NESTING] for i in range(0, len(ordered), MAX_NESTING)]
        return [re.compile(_trie(chunk)) for chunk in chunks]


def _trie(secrets: Iterable[str]) -> str:
    trie: dict[str, Any] = {}
    for secret in secrets:
        node = trie
        for char in secret:
            node = node.setdefault(char, {})
        node[""] = {}  # a secret ends here
    return _branches(trie, 0)


MAX_NESTING = 100  # of optional groups in the trie pattern, beyond which it compiles slowly


def _branches(node: dict[str, Any], depth: int) -> str:
    if depth > MAX_NESTING:
        raise RecursionError("secrets nest too deeply for one trie pattern")
    branches = []
    for char in sorted(key for key in node if key):
        text, child = char, node[char]
        while len(child) == 1 and "" not in child:  # a chain: one literal, no recursion
            ((following, child),) = child.items()
            text += following
        branches.append(re.escape(text) + _branches(child, depth + ("" in child)))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if "" in node else body  # greedy: the longer secret first


def _b64_inside(data: bytes) -> set[str]:
    """What ``data`` looks like inside any longer base64 text: the stable middle of its
    encoding at each of the three alignments."""
    found = set()
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + data).decode()
        start = (offset * 4 + 2) // 3  # characters touched by the padding before
        end = len(encoded) - (0 if (offset + len(data)) % 3 == 0 else 4)
        core = encoded[start:end]
        if len(core) >= 2 * MIN_SECRET_LENGTH:
            found.add(core)
    return found


def _forms(value: str, shortest: int = MIN_SECRET_LENGTH) -> set[str]:
    """Every form of ``value`` to hide: whole and each line, each also encoded."""
    pieces = {value, *value.splitlines()}
    pieces = {p.strip() for p in pieces} | pieces
    forms = set()
    for piece in pieces:
        if len(piece.strip()) < shortest:
            continue
        raw = piece.encode("utf-8", errors="surrogatepass")
        forms |= {piece, base64.b64encode(raw).decode(), quote(piece, safe="")}
        forms |= {json.dumps(piece)[1:-1], json.dumps(piece, ensure_ascii=False)[1:-1]}
        forms |= _b64_inside(raw)
    return {f for f in forms if f.strip()}


def secret_values(resource: object) -> Iterator[str]:
    """The values of a Secret's ``data`` and ``stringData``, whatever their shape (a map,
    a list, nested, a scalar); ``data`` values also decoded. Nothing for other kinds."""
    if not isinstance(resource, dict) or resource.get("kind") != "Secret":
        return
    for section in ("data", "stringData"):
        for leaf in _leaves(resource.get(section)):
            yield leaf
            if section == "data":
                try:
                    decoded = base64.b64decode(leaf, validate=False).decode("utf-8")
                except (ValueError, UnicodeDecodeError):
                    continue
                yield decoded


def _leaves(node: object) -> Iterator[str]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif item is not None and not isinstance(item, bool):
            yield str(item)


REDACTOR = Redactor()


def write_redacted(path: str | Path, text: str) -> None:
    """Write a report file: every secret known so far hidden, as on every other output."""
    Path(path).write_text(REDACTOR.redact(text), encoding="utf-8")


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
