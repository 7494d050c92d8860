"""comment: post a diff (or any markdown) as one sticky comment on a pull or merge request."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from gitops_actions.comment import cienv, markers, sticky
from gitops_actions.comment.parts import comment_parts
from gitops_actions.comment.render import Document, render
from gitops_actions.diffmodel import Diff
from gitops_actions.errors import InputError, UsageError
from gitops_actions.forge import COMMENT_LIMITS, Forge, make_forge
from gitops_actions.retry import Deadline
from gitops_actions.step import Context, Status, Step, StepResult, option
from gitops_actions.steps.delivery import MAX_TIMEOUT


@dataclass(frozen=True)
class Options:
    source: str = option(
        "the diff JSON that `diff --format json` wrote, or a markdown file posted as it is",
        required=True,
        metavar="FILE",
        name="from",
    )
    forge: str = option(
        "where the pull request is (default: github in GitHub Actions, gitlab in GitLab CI, "
        "else local)",
        default="auto",
        choices=("auto", "github", "gitlab", "local"),
    )
    pr: int | None = option(
        "pull (merge) request number (default: from the CI event or CI_MERGE_REQUEST_IID)",
        metavar="N",
    )
    project: str | None = option(
        "project on the forge, e.g. acme/config (default: GITHUB_REPOSITORY or CI_PROJECT_PATH)",
        metavar="PATH",
    )
    forge_url: str | None = option("forge API URL (default: from CI variables)", metavar="URL")
    forge_dir: str = option(
        "directory the local forge keeps pull requests and comments in",
        default=".gitops-forge",
        metavar="DIR",
    )
    target: str | None = option(
        "what the comment is about, kept in its hidden marker: one sticky comment per target "
        "(default: the diff's target, else default)",
        metavar="NAME",
    )
    max_parts: int = option(
        "most comments one diff may take; beyond them it is cut with a link to the full diff",
        default=10,
    )
    artifact_url: str | None = option(
        "where the full diff can be read, linked when it is cut (default: the diff's "
        "full_artifact)",
        metavar="URL",
    )
    leftovers: str = option(
        "what happens to parts a shorter diff no longer needs: deleted, or emptied and "
        "minimised (GitHub)",
        default="delete",
        choices=("delete", "minimize"),
    )
    head_sha: str | None = option(
        "head commit recorded in the comment (default: the triggering run's, the diff's "
        "head, or from CI)",
        metavar="SHA",
    )
    run_number: int | None = option(
        "run number recorded in the comment; a run never overwrites a comment from a higher "
        "one (default: the triggering run's number, GITHUB_RUN_NUMBER or CI_PIPELINE_IID)",
        metavar="N",
    )
    dry_run: bool = option("print the comment parts, post nothing", default=False)
    timeout: float = option(
        "seconds every forge call may take together, retries included", default=300.0, metavar="S"
    )


MAX_SOURCE_BYTES = 128 * 2**20

OUTPUTS = (
    ("comment-urls", "the comment parts as they now stand, one URL (or local path) per line"),
    ("parts", "how many comments the body takes"),
    ("changed", "true when a comment was created, edited or removed"),
)


def read_source(path: Path) -> str:
    """The text of ``path``: a regular file (a FIFO would block), bounded, UTF-8."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as err:
        raise InputError(f"cannot read: {err.strerror or err}", path=str(path)) from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputError("not a regular file", path=str(path))
        if info.st_size > MAX_SOURCE_BYTES:
            raise InputError(f"larger than {MAX_SOURCE_BYTES // 2**20} MiB", path=str(path))
        try:
            data = f.read(MAX_SOURCE_BYTES + 1)
        except OSError as err:
            raise InputError(f"cannot read: {err.strerror or err}", path=str(path)) from None
    if len(data) > MAX_SOURCE_BYTES:
        raise InputError(f"larger than {MAX_SOURCE_BYTES // 2**20} MiB", path=str(path))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"not UTF-8 (byte {err.start})", path=str(path)) from None


def document_of(path: Path) -> tuple[Document, Diff | None]:
    """The comment for a diff JSON file, or a markdown file's text as it is."""
    text = read_source(path)
    if path.suffix.lower() != ".json":
        if not text.strip():
            raise InputError("nothing to post: the file is empty", path=str(path))
        return Document(text if text.endswith("\n") else text + "\n"), None
    diff = Diff.from_json(text, path=str(path))
    return render(diff), diff


def compose(
    opts: Options, env: Mapping[str, str], event: Mapping[str, Any], limit: int
) -> tuple[str, int | None, list[str]]:
    """The target, the stamp and the parts to post, from the file and the CI run."""
    doc, diff = document_of(Path(opts.source))
    if opts.target is not None:
        target = markers.checked_target(opts.target, "--target")
    else:
        found = (diff.target if diff else "") or "default"
        target = markers.checked_target(found, "target", opts.source if diff else None)
    heads = (
        ("--head-sha", opts.head_sha),
        ("the triggering run's head_sha", cienv.triggering_head(event)),
        (f"{opts.source}: head.sha", diff.head.sha if diff else ""),
        ("the CI run's head commit", cienv.head_sha(env, event)),
    )
    where, head = next(((w, sha) for w, sha in heads if sha), ("", ""))
    head = markers.checked_sha(head, where) if head else ""
    run = opts.run_number if opts.run_number is not None else cienv.run_number(env, event)
    if run is not None:
        run = markers.checked_run(run, "--run-number" if opts.run_number is not None else "run")
    artifact = opts.artifact_url or (diff.full_artifact if diff else None)
    parts = comment_parts(
        doc,
        target=target,
        limit=limit,
        head=head,
        run=run,
        max_parts=opts.max_parts,
        artifact=artifact,
    )
    return target, run, parts


def forge_name(choice: str, env: Mapping[str, str]) -> str:
    if choice != "auto":
        return choice
    if env.get("GITHUB_ACTIONS") == "true":
        return "github"
    return "gitlab" if env.get("GITLAB_CI") == "true" else "local"


def moved_on(forge: Forge, project: str, number: int, event: Mapping[str, Any]) -> str:
    """In a ``workflow_run`` job: why the pull request is not the one this diff was made for.

    The number travels with the diff from a job that ran the pull request's code, so it is
    checked against the commit the triggering run was for.
    """
    expected = cienv.triggering_head(event)
    if not expected:
        return ""
    actual = forge.pull_request_head(project=project, number=number)
    if not actual or actual == expected:
        return ""
    return (
        f"pull request #{number} is at {actual[:12]} but this diff is for {expected[:12]}: "
        "not commenting (the pull request moved on, or the number is not this run's)"
    )


def run(opts: Options, ctx: Context) -> StepResult:
    if not 0 < opts.timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout {opts.timeout:g}: give seconds between 0 and {MAX_TIMEOUT}")
    name = forge_name(opts.forge, ctx.env)
    event = cienv.github_event(ctx.env)
    target, run_no, parts = compose(opts, ctx.env, event, COMMENT_LIMITS[name])
    outputs = {"parts": str(len(parts)), "changed": "false", "comment-urls": ""}
    if opts.dry_run:
        for index, part in enumerate(parts, 1):
            ctx.ci.out.write(f"----- part {index} of {len(parts)} ({len(part)} characters)\n")
            ctx.ci.out.write(part if part.endswith("\n") else part + "\n")
        return StepResult("unchanged", f"dry run: {len(parts)} part(s), nothing posted", outputs)
    number = opts.pr or cienv.pull_request_number(ctx.env, event)
    if not number:
        raise UsageError("no pull request to comment on", hint="pass --pr N")
    if number < 1:
        raise UsageError(f"--pr {number}: not a pull request number")
    project = opts.project or cienv.project(ctx.env) or ("local" if name == "local" else "")
    if not project:
        raise UsageError("no project to comment in", hint="pass --project")
    deadline = Deadline.after(opts.timeout)
    forge = make_forge(
        name, ctx.env, url=opts.forge_url, directory=opts.forge_dir, deadline=deadline
    )
    where = f"{project}#{number}"
    with ctx.ci.group(f"comment {where}"):
        reason = moved_on(forge, project, number, event)
        if reason:
            return StepResult("unchanged", reason, outputs, f"### comment\n\n{reason}\n")
        outcome = sticky.publish(
            forge,
            project=project,
            number=number,
            target=target,
            parts=parts,
            run=run_no,
            leftovers=cast(sticky.Leftovers, opts.leftovers),
            log=ctx.ci.log,
        )
    return report(where, outcome, outputs)


def report(where: str, outcome: sticky.Outcome, outputs: dict[str, str]) -> StepResult:
    todo = outcome.plan
    urls = [c.url for c in outcome.comments]
    outputs |= {"comment-urls": "\n".join(urls), "changed": str(outcome.changed).lower()}
    if todo.blocked:
        return StepResult("unchanged", f"comment on {where}: {todo.blocked}", outputs)
    counts = (
        f"{len(todo.create)} created, {len(todo.update)} updated, {len(todo.keep)} unchanged, "
        f"{len(todo.leftovers)} removed"
    )
    links = "".join(f"- {url}\n" for url in urls)
    summary = f"### comment\n\n{where}: {counts}\n\n{links}"
    status: Status = "changed" if outcome.changed else "unchanged"
    return StepResult(status, f"comment on {where}: {counts}", outputs, summary)


STEP = Step(
    name="comment",
    summary="Post a diff or any markdown as one sticky comment on a PR or MR.",
    examples=(
        "gitops-actions comment --forge github --from diff.json --pr 42",
        "gitops-actions comment --forge gitlab --from diff.json",
        "gitops-actions comment --forge local --from notes.md --pr 1 --forge-dir .gitops-forge",
        "gitops-actions comment --from diff.json --dry-run",
    ),
    options=Options,
    run=run,
    outputs=OUTPUTS,
)
