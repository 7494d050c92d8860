"""rollback: revert a bump commit (or set an image back) through the same safe writer.

Reverting is a new commit on the current tip, so the agent rolls back and auto-sync keeps
working; a later change to the same lines makes the revert refuse rather than guess.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from gitops_actions import git, imageref
from gitops_actions.edit.plan import FileChange, Plan, Request
from gitops_actions.errors import CheckFailed, ExternalError, UsageError
from gitops_actions.step import Context, Step, StepResult, option
from gitops_actions.steps.bump import planner
from gitops_actions.steps.delivery import OUTPUTS, WriteOptions, deliver

REVERT_MESSAGE = 'Revert "{subject}"\n\nThis reverts commit {reverted}.'


@dataclass(frozen=True)
class Options(WriteOptions):
    revert: str | None = option("the bump commit to revert", name="commit", metavar="SHA")
    image: str | None = option("with --to: the image repository to set back", metavar="REPO")
    to: str | None = option(
        "with --image: the reference to go back to (tag and/or digest)", metavar="REF"
    )
    message: str = option(
        "commit message template; {subject} and {reverted} name the reverted commit", default=""
    )


def revert_plan(root: Path, sha: str) -> Plan:
    """The files as ``git revert`` of ``sha`` would leave them on the current tip."""
    repo = git.Repo(root)
    applied = repo.git("revert", "--no-commit", "--no-edit", sha, check=False)
    try:
        if applied.returncode != 0:
            raise CheckFailed(
                f"cannot revert {sha[:12]} cleanly on the current tip: a later commit changed "
                "the same lines",
                hint="roll back with --image and --to instead",
            )
        status = repo.git("diff", "--cached", "--name-status", "--no-renames", "HEAD").stdout
        changes = []
        for line in status.splitlines():
            kind, path = line.split("\t", 1)
            if kind != "M":
                raise CheckFailed(
                    f"{sha[:12]} adds or deletes {path}; rollback only reverts "
                    "commits that edit files"
                )
            before = repo.git("show", f"HEAD:{path}").stdout.encode()
            changes.append(FileChange(path, before, (root / path).read_bytes()))
        return Plan(hits=(), changes=tuple(changes), found=len(changes))
    finally:
        repo.git("revert", "--abort", check=False)
        repo.git("reset", "--quiet", "--hard", "HEAD")


def run(opts: Options, ctx: Context) -> StepResult:
    if bool(opts.revert) == bool(opts.image or opts.to):
        raise UsageError("give either --commit SHA, or --image REPO with --to REF")
    if opts.revert:
        return _revert(opts, ctx, opts.revert)
    if not (opts.image and opts.to):
        raise UsageError("--image and --to go together")
    ref = imageref.parse(opts.image)
    if opts.to.startswith("sha256:"):
        back = imageref.parse(f"{ref.repository}@{opts.to}")
    elif not any(c in opts.to for c in "/:@"):
        back = imageref.parse(f"{ref.repository}:{opts.to}")
    else:
        back = imageref.parse(opts.to)
    ref = ref.with_(tag=back.tag, digest=back.digest)
    compute = planner(
        Request(images=(ref,), allow_downgrade=True), allow_no_match=False, where=opts.repo
    )
    opts = replace(opts, message=opts.message or "roll back {names} to {new_versions}")
    return deliver(opts, ctx, compute, label="rollback", review_name=f"rollback-{ref.short_name}")


def _revert(opts: Options, ctx: Context, sha: str) -> StepResult:
    fields = {"reverted": sha, "subject": sha}  # filled in from the clone, before any message

    def compute(root: Path) -> Plan:
        repo = git.Repo(root)
        try:
            fields["reverted"] = repo.head_sha(sha)
        except ExternalError:
            raise UsageError(f"--commit {sha}: no such commit in the config repo") from None
        fields["subject"] = repo.git("log", "-1", "--format=%s", sha).stdout.strip()
        return revert_plan(root, sha)

    opts = replace(opts, message=opts.message or REVERT_MESSAGE)
    return deliver(
        opts,
        ctx,
        compute,
        label="rollback",
        review_name=f"rollback-{sha[:12]}",
        fields=fields,
        depth=None,
    )


STEP = Step(
    name="rollback",
    summary="Revert a bump commit in the config repo through the same safe writer.",
    examples=(
        "gitops-actions rollback --repo $CONFIG_REPO --commit 1a2b3c4d",
        "gitops-actions rollback --repo $CONFIG_REPO --image ghcr.io/acme/shop --to 1.4.1",
    ),
    options=Options,
    run=run,
    outputs=OUTPUTS,
)
