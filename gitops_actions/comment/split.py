"""Cut markdown into parts that each fit a platform's comment limit, without breaking it.

Cuts fall between top-level blocks when they can (a ``<details>`` block, a paragraph, a
table), else between lines. A cut inside a fenced code block closes the fence at the end
of one part and reopens it, with the same info string, at the start of the next; open
``<details>`` elements are closed and reopened the same way, so every part renders on
its own. Lengths are counted in characters, as GitHub and GitLab count them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from gitops_actions.comment.render import Document, code
from gitops_actions.errors import UsageError

SLACK = 64  # characters kept free in every part, beyond what the header and footer need
MIN_ROOM = 1000
MAX_OPEN = 32  # <details> elements closed and reopened at a cut; deeper ones are not
MAX_OPENER = 400  # a longer opening line is reopened as a bare <details>

_FENCE = re.compile(r"( {0,3})(`{3,}|~{3,})(.*)")
_DETAILS = re.compile(r"<(/?)details(?=[\s>/])", re.IGNORECASE)


@dataclass(frozen=True)
class _State:
    """What is open after a line: a fence (indent, fence, info) and ``<details>`` openers."""

    fence: tuple[str, str, str] | None = None
    details: tuple[str, ...] = ()

    @property
    def top(self) -> bool:
        return self.fence is None and not self.details

    def after(self, line: str) -> _State:
        text = line.rstrip("\r\n")
        match = _FENCE.fullmatch(text)
        if self.fence is not None:
            _, fence, _ = self.fence
            closes = (
                match is not None
                and match.group(2)[0] == fence[0]
                and len(match.group(2)) >= len(fence)
                and not match.group(3).strip()
            )
            return replace(self, fence=None) if closes else self
        if match and not (match.group(2)[0] == "`" and "`" in match.group(3)):
            indent, fence, info = match.groups()
            return replace(self, fence=(indent, fence, info))
        if "<" not in text or not _DETAILS.search(text):
            return self
        details = list(self.details)
        for tag in _DETAILS.finditer(text):
            if tag.group(1):
                if details:
                    details.pop()
            elif len(details) < MAX_OPEN:  # deeper ones are cut through, not reopened
                details.append(text if len(text) <= MAX_OPENER else "<details>")
        return replace(self, details=tuple(details))

    def closing(self) -> str:
        """Lines that close whatever is open, innermost first."""
        text = f"{self.fence[0]}{self.fence[1]}\n" if self.fence else ""
        return text + ("\n" + "</details>\n" * len(self.details) if self.details else "")

    def opening(self) -> str:
        """Lines that reopen what ``closing`` closed, outermost first."""
        text = "".join(_reopen(opener) + "\n\n" for opener in self.details)
        return text + ("".join(self.fence) + "\n" if self.fence else "")


def _reopen(opener: str) -> str:
    at = opener.lower().find("</summary>")
    return opener if at < 0 else opener[:at] + " (continued)" + opener[at:]


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _blocks(lines: list[str]) -> list[list[str]]:
    """Top-level blocks: a cut before a block never lands inside a fence or ``<details>``."""
    blocks: list[list[str]] = []
    state = _State()
    for line in lines:
        opens = line.lstrip().lower().startswith("<details")
        after_blank = bool(blocks) and not blocks[-1][-1].strip()
        if not blocks or (state.top and line.strip() and (opens or after_blank)):
            blocks.append([])
        blocks[-1].append(line)
        state = state.after(line)
    return blocks


def _wrap(lines: list[str], width: int) -> list[str]:
    """Lines longer than ``width`` cut into pieces: the last resort for one huge line."""
    out: list[str] = []
    for line in lines:
        while len(line) > width:
            out.append(line[: width - 1] + "\n")
            line = line[width - 1 :]
        out.append(line)
    return out


def _split_block(block: list[str], budget: int, used: int = 0) -> list[str]:
    """Cut one oversized block between lines, closing and reopening fences and details.

    The first piece fits after ``used`` characters already in the part; it is empty when
    not even one line does.
    """
    pieces: list[str] = []
    state = _State()
    text, filled = "", used > 0
    for line in _wrap(block, max(budget // 2, 2)):
        after = state.after(line)
        if filled and used + len(text) + len(line) + len(after.closing()) > budget:
            pieces.append(text + state.closing())
            text, filled, used = state.opening(), False, 0
        text += line
        filled = True
        state = after
    pieces.append(text + state.closing())
    return pieces


def split_markdown(text: str, budget: int) -> list[str]:
    """``text`` in parts of at most ``budget`` characters, each one balanced on its own."""
    if len(text) <= budget:
        return [text]
    parts: list[str] = []
    current = ""
    for block in _blocks(_lines(text)):
        joined = "".join(block)
        if len(current) + len(joined) <= budget:
            current += joined
            continue
        if len(joined) <= budget:
            parts += [current] if current.strip() else []
            current = joined
            continue
        pieces = _split_block(block, budget, len(current))
        pieces[0] = current + pieces[0]
        parts += [piece for piece in pieces[:-1] if piece.strip()]
        current = pieces[-1]
    if current.strip() or not parts:
        parts.append(current)
    return parts


def truncation_notice(dropped: int, artifact: str | None) -> str:
    if artifact and re.match(r"https?://", artifact):
        safe = artifact.replace(" ", "%20").replace("(", "%28").replace(")", "%29")
        where = f"[the full diff]({safe})"
    elif artifact:
        where = f"the full diff in {code(artifact)}"
    else:
        where = "the full diff in the pipeline's artifacts"
    parts = "1 more part is" if dropped == 1 else f"{dropped} more parts are"
    return f"\n> **Truncated:** {parts} not shown here; see {where}.\n"


def paginate(
    doc: Document,
    *,
    limit: int,
    header: Callable[[int, int], str],
    max_parts: int = 10,
    artifact: str | None = None,
) -> list[str]:
    """The comment parts for ``doc``: each within ``limit`` characters, header first.

    ``header(i, n)`` gives the hidden lines part ``i`` of ``n`` starts with. Beyond
    ``max_parts`` the rest is dropped and the last part points at ``artifact``; the footer
    always ends the last part.
    """
    if max_parts < 1:
        raise UsageError("--max-parts must be at least 1")
    widest = max(max_parts, 2)
    overhead = len(header(widest, widest)) + len(_label(widest, widest))
    overhead += len(doc.footer) + len(truncation_notice(10**6, artifact)) + SLACK
    room = limit - overhead
    if room < MIN_ROOM:
        raise UsageError(f"a comment limit of {limit} characters leaves no room for the diff")
    chunks = split_markdown(doc.body, room)
    dropped = max(0, len(chunks) - max_parts)
    chunks = chunks[:max_parts]
    count = len(chunks)
    parts = []
    for number, chunk in enumerate(chunks, 1):
        text = header(number, count) + _label(number, count) + chunk
        if number == count:
            text += (truncation_notice(dropped, artifact) if dropped else "") + doc.footer
        parts.append(text)
    return parts


def _label(number: int, count: int) -> str:
    return f"<sub>part {number} of {count}</sub>\n\n" if count > 1 else ""
