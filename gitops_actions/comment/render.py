"""Markdown for a diff document: summary table first, one ``<details>`` per app, a footer.

Pure functions from a ``Diff`` to text. Every name from the document is escaped for where
it lands: code spans in tables and lists, HTML in ``<summary>``, and fences longer than
any backtick run in the diff they hold.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from dataclasses import dataclass

from gitops_actions.diffmodel import ACTIONS, App, Change, Diff

LIST_INLINE = 5  # rendered apps listed inline up to this many, in a <details> list beyond
_BACKTICKS = re.compile(r"`+")


@dataclass(frozen=True)
class Document:
    """A comment before it is split: ``footer`` always ends the last part."""

    body: str
    footer: str = ""

    @property
    def text(self) -> str:
        return self.body + self.footer


def code(text: str) -> str:
    """``text`` as an inline code span, whatever backticks it holds."""
    text = " ".join(text.split())
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def cell(text: str) -> str:
    """A code span fit for a table cell: pipes escaped, as GitHub and GitLab expect."""
    return code(text).replace("|", "\\|")


def fence_for(text: str) -> str:
    """A backtick fence longer than any backtick run at the start of a line in ``text``."""
    runs = [len(m) for m in re.findall(r"^ {0,3}(`{3,})", text, flags=re.MULTILINE)]
    return "`" * max(3, max(runs, default=0) + 1)


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def title(diff: Diff) -> str:
    return f"### GitOps diff: {code(diff.target)}\n"


def summary_table(diff: Diff) -> str:
    """One row per app and kind, with how many resources were added, changed, removed."""
    rows = ["| app | kind | added | changed | removed |", "|---|---|---:|---:|---:|"]
    totals: Counter[str] = Counter()
    for app in diff.apps:
        by_kind: dict[str, Counter[str]] = {}
        for change in app.changes:
            by_kind.setdefault(change.kind, Counter())[change.action] += 1
            totals[change.action] += 1
        for kind in sorted(by_kind):
            counts = " | ".join(str(by_kind[kind][action]) for action in ACTIONS)
            rows.append(f"| {cell(app.name)} | {cell(kind)} | {counts} |")
        if app.note:
            rows.append(f"| {cell(app.name)} | {cell(app.note)} | | | |")
    if len(rows) > 3:
        rows.append("| **total** | | " + " | ".join(str(totals[a]) for a in ACTIONS) + " |")
    return "\n".join(rows) + "\n"


def change_block(change: Change) -> str:
    """One resource: a line saying what happened, its field summaries, then its diff."""
    lines = [f"- **{change.action}** {code(change.api_version)} {code(change.id)}"]
    lines += [f"  - {code(line)}" for line in change.summary]
    lines += [f"  - secret: {code(line)}" for line in change.redacted]
    text = "\n".join(lines) + "\n"
    if change.diff.strip():
        fence = fence_for(change.diff)
        body = change.diff if change.diff.endswith("\n") else change.diff + "\n"
        text += f"\n{fence}diff\n{body}{fence}\n"
    return text


def app_block(app: App) -> str:
    name = html.escape(app.name, quote=False)
    head = f"<details><summary><code>{name}</code> ({plural(len(app.changes), 'change')})"
    blocks = "\n".join(change_block(change) for change in app.changes)
    return f"{head}</summary>\n\n{blocks}\n</details>\n"


def notes(diff: Diff) -> str:
    """What the noise filters hid and what was rendered."""
    text = ""
    hidden = [(name, count) for name, count in diff.filters if count]
    if hidden:
        each = ", ".join(f"{code(name)} ({count})" for name, count in hidden)
        text += f"Noise filters hid {plural(diff.hidden, 'change')}: {each}.\n"
    gap = "\n" if text else ""
    if diff.rendered and len(diff.rendered) <= LIST_INLINE:
        listed = ", ".join(code(name) for name in diff.rendered)
        text += f"{gap}Rendered {listed}.\n"
    elif diff.rendered:
        items = "".join(f"- {code(name)}\n" for name in diff.rendered)
        count = plural(len(diff.rendered), "app")
        text += f"{gap}<details><summary>Rendered {count}</summary>\n\n{items}\n</details>\n"
    return text


def footer(diff: Diff) -> str:
    def side(label: str, ref: str, sha: str) -> str:
        return f"{label} {code(ref)} {code(sha)}" if ref else f"{label} {code(sha or 'unknown')}"

    base = side("base", diff.base.ref, diff.base.sha)
    head = side("head", diff.head.ref, diff.head.sha)
    return f"\n---\n<sub>{base} → {head}</sub>\n"


def render(diff: Diff) -> Document:
    """The comment for ``diff``: heading, summary table, one block per app, notes, footer."""
    parts = [title(diff)]
    apps = [app for app in diff.apps if app.changes]
    shown = [app for app in diff.apps if app.changes or app.note]  # a note: not rendered
    if apps:
        total = plural(diff.changes, "resource")
        parts.append(f"{total} changed in {plural(len(apps), 'app')}.\n")
    else:
        parts.append("No changes in the rendered resources.\n")
    if shown:
        parts.append(summary_table(Diff(diff.target, diff.base, diff.head, tuple(shown))))
        parts += [app_block(app) for app in apps]
    extra = notes(diff)
    if extra:
        parts.append(extra)
    return Document("\n".join(parts), footer(diff))
