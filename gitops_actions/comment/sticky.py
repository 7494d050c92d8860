"""One sticky comment per target, edited in place: plan on strings, then apply on a forge.

Our comments start with the target's marker and, where the forge names authors, were
written by our own login: a comment by anyone else is never edited, deleted or counted,
whatever it says. Each part is matched by its part number. A part whose body is unchanged
is not written. Parts no longer needed are deleted, or emptied and
minimised. A run never overwrites parts written by a run with a higher run number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from gitops_actions.comment.markers import (
    clean_target,
    is_ours,
    marker,
    read_stamp,
    stale_marker,
)
from gitops_actions.errors import ExternalError
from gitops_actions.forge import Comment, Forge

Leftovers = Literal["delete", "minimize"]


@dataclass(frozen=True)
class Plan:
    """What to do so that the conversation shows ``parts`` and nothing else of ours."""

    create: tuple[tuple[int, str], ...] = ()  # (part number, body)
    update: tuple[tuple[Comment, str], ...] = ()
    keep: tuple[Comment, ...] = ()
    leftovers: tuple[Comment, ...] = ()
    blocked: str = ""  # why nothing may be written, when a newer run owns the comment

    @property
    def writes(self) -> int:
        return len(self.create) + len(self.update) + len(self.leftovers)


def _same(a: str, b: str) -> bool:
    """Equal as the platforms store them: line endings and trailing blanks do not count."""
    return a.replace("\r\n", "\n").rstrip() == b.replace("\r\n", "\n").rstrip()


def written_by(comment: Comment, me: str | None) -> bool:
    """Whether ``me`` wrote ``comment``; any comment counts where nobody has a login."""
    if me is None:
        return True
    return comment.author is not None and comment.author.casefold() == me.casefold()


def plan(
    existing: Sequence[Comment],
    parts: Sequence[str],
    *,
    target: str,
    run: int | None,
    me: str | None = None,
) -> Plan:
    """Match ``existing`` comments to ``parts`` by part number; decide what to write.

    Only comments ``me`` wrote (any, when ``me`` is None) that start with the target's
    marker are considered."""
    ours = [c for c in existing if written_by(c, me) and is_ours(c.body, target)]
    if run is not None:
        newest = max(((read_stamp(c.body).run or 0), c.url) for c in ours) if ours else (0, "")
        if newest[0] > run:
            return Plan(
                keep=tuple(ours),
                blocked=f"{newest[1]} was written by run {newest[0]}, newer than this run "
                f"({run}); leaving it alone",
            )
    slots: dict[int, Comment] = {}
    leftovers: list[Comment] = []
    for comment in ours:
        number = read_stamp(comment.body).part
        if number in slots or number > len(parts):
            leftovers.append(comment)
        else:
            slots[number] = comment
    create, update, keep = [], [], []
    for number, body in enumerate(parts, 1):
        found = slots.get(number)
        if found is None:
            create.append((number, body))
        elif _same(found.body, body):
            keep.append(found)
        else:
            update.append((found, body))
    return Plan(tuple(create), tuple(update), tuple(keep), tuple(leftovers))


def stale_body(target: str) -> str:
    return f"{stale_marker(target)}\n_This part of an earlier diff comment is outdated._\n"


@dataclass(frozen=True)
class Outcome:
    comments: tuple[Comment, ...]  # the parts as they now stand, in order
    plan: Plan
    removed: tuple[Comment, ...] = field(default=())

    @property
    def changed(self) -> bool:
        return self.plan.writes > 0 and not self.plan.blocked


def publish(
    forge: Forge,
    *,
    project: str,
    number: int,
    target: str,
    parts: Sequence[str],
    run: int | None = None,
    leftovers: Leftovers = "delete",
    log: Callable[[str], None] = lambda _: None,
) -> Outcome:
    """Make pull request ``number`` show ``parts`` as our comment for ``target``."""
    me = forge.identity()
    existing = forge.list_comments(project=project, number=number, marker=marker(target))
    todo = plan(existing, parts, target=target, run=run, me=me)
    if todo.blocked:
        log(todo.blocked)
        return Outcome(todo.keep, todo)
    done: dict[int, Comment] = {read_stamp(c.body).part: c for c in todo.keep}
    for comment, body in todo.update:
        part = read_stamp(body).part
        done[part] = forge.update_comment(
            project=project, number=number, comment=comment, body=body
        )
        log(f"updated part {part}: {done[part].url}")
    key = clean_target(target)
    for part, body in todo.create:
        done[part] = forge.create_comment(
            project=project, number=number, body=body, key=f"{key}-{part}"
        )
        log(f"created part {part}: {done[part].url}")
    for comment in todo.leftovers:
        if leftovers == "minimize":
            stub = stale_body(target)
            forge.update_comment(project=project, number=number, comment=comment, body=stub)
            try:
                hidden = forge.minimize_comment(project=project, number=number, comment=comment)
            except ExternalError as err:  # emptied already: it no longer shows a stale diff
                log(f"emptied leftover {comment.url}; minimising it failed: {err.one_line()}")
                continue
            log(f"{'minimised' if hidden else 'emptied'} leftover {comment.url}")
        else:
            forge.delete_comment(project=project, number=number, comment=comment)
            log(f"deleted leftover {comment.url}")
    for comment in todo.keep:
        log(f"unchanged: {comment.url}")
    return Outcome(tuple(done[i] for i in sorted(done)), todo, todo.leftovers)
