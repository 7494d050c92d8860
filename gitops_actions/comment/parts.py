"""A document as the comment parts to post: split to fit, stamped, secrets masked."""

from __future__ import annotations

from gitops_actions.comment import markers
from gitops_actions.comment.render import Document
from gitops_actions.comment.split import paginate
from gitops_actions.secrets import REDACTOR


def comment_parts(
    doc: Document,
    *,
    target: str,
    limit: int,
    head: str | None = None,
    run: int | None = None,
    max_parts: int = 10,
    artifact: str | None = None,
) -> list[str]:
    """Each part starts with the target's marker and the stamp of this run; marker syntax
    in the document is neutralised, so no body can pass for another part or target."""

    def header(part: int, count: int) -> str:
        return markers.header(target, markers.Stamp(head or None, run, part, count))

    doc = Document(markers.neutralise(doc.body), markers.neutralise(doc.footer))
    artifact = markers.neutralise(artifact) if artifact else artifact
    parts = paginate(doc, limit=limit, header=header, max_parts=max_parts, artifact=artifact)
    return [REDACTOR.redact(part) for part in parts]
