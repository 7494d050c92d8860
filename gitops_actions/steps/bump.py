"""bump: write a new image reference into the config repo as one small, safe commit."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_actions import git, imageref, writer
from gitops_actions.edit.markers import split_marker
from gitops_actions.edit.plan import Plan, Request, SetValue, plan
from gitops_actions.errors import CheckFailed, UsageError
from gitops_actions.imageref import ImageRef
from gitops_actions.step import Context, Status, Step, StepResult, option

DEFAULT_MESSAGE = "bump {names} to {new_versions}"


@dataclass(frozen=True)
class Options:
    image: tuple[str, ...] = option(
        "new image reference, matched by repository: repo:tag, repo@sha256:..., or "
        "repo:tag@sha256:... (repeatable)",
        default=(),
        metavar="REF",
    )
    setter: tuple[str, ...] = option(
        'set fields marked # {"$imagepolicy": "NAME"} (Flux markers) to REF (repeatable)',
        default=(),
        metavar="NAME=REF",
    )
    set: tuple[str, ...] = option(
        "set one scalar in a YAML, JSON or .tfvars file (repeatable)",
        default=(),
        metavar="FILE:PATH=VALUE",
    )
    repo: str = option(
        "config repo: a directory, a local clone, or a remote URL",
        default=".",
        metavar="PATH_OR_URL",
    )
    branch: str | None = option(
        "target branch (default: the remote's default branch, or the clone's current branch)",
        metavar="BRANCH",
    )
    files: tuple[str, ...] = option(
        "only search files matching this glob (repeatable)", default=(), metavar="GLOB"
    )
    commit: bool = option(
        "commit (and push) the change; --no-commit only edits files", default=True
    )
    push: bool = option("push the commit to the clone's origin", default=True)
    dry_run: bool = option("show the diff, change nothing", default=False)
    allow_downgrade: bool = option("allow a lower semver tag than the current one", default=False)
    allow_no_match: bool = option("succeed when nothing references the image", default=False)
    message: str = option(
        "commit message template; placeholders: {names} {image} "
        "{old_tag} {new_tag} {old_digest} {new_digest} {old_ref} {new_ref} "
        "{new_versions} {files}",
        default=DEFAULT_MESSAGE,
    )
    author_name: str = option("commit author and committer name", default=git.BOT.name)
    author_email: str = option("commit author and committer e-mail", default=git.BOT.email)
    source_repository: str | None = option("Source-Repository trailer (default: from CI)")
    source_commit: str | None = option("Source-Commit trailer (default: from CI)")
    pipeline: str | None = option("Pipeline trailer (default: from CI)", metavar="URL")
    git_token: str | None = option("HTTPS token for the config repo", secret=True, metavar="SECRET")
    git_username: str = option("user name sent with --git-token", default="x-access-token")
    ssh_key: str | None = option("SSH deploy key file for the config repo", metavar="FILE")
    retries: int = option("push attempts before giving up", default=10)
    timeout: float = option("seconds before giving up on pushing", default=300.0)


def source_trailers(opts: Options, env: Mapping[str, str]) -> list[str]:
    """Trailers linking the commit back to the source commit and pipeline."""
    github = env.get("GITHUB_SERVER_URL", "https://github.com")
    repo = env.get("GITHUB_REPOSITORY")
    values = {
        "Source-Repository": opts.source_repository
        or (f"{github}/{repo}" if repo else env.get("CI_PROJECT_URL")),
        "Source-Commit": opts.source_commit or env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA"),
        "Pipeline": opts.pipeline
        or (
            f"{github}/{repo}/actions/runs/{env['GITHUB_RUN_ID']}"
            if repo and env.get("GITHUB_RUN_ID")
            else env.get("CI_PIPELINE_URL")
        ),
    }
    return [f"{key}: {value}" for key, value in values.items() if value]


class _Fields(dict[str, str]):
    def __missing__(self, key: str) -> str:
        raise UsageError(f"--message: unknown placeholder {{{key}}}")


def commit_message(template: str, result: Plan, trailers: list[str]) -> str:
    hits = [h for h in result.hits if h.splices] or list(result.hits)
    first_old = hits[0].old if hits else ImageRef("")
    first_new = hits[0].new if hits else ImageRef("")
    names = sorted({h.new.short_name for h in hits}) or ["values"]
    versions = sorted({h.new.tag or (h.new.digest or "")[:19] for h in hits} - {""})
    fields = _Fields(
        names=", ".join(names),
        image=first_new.repository,
        old_tag=first_old.tag or "",
        new_tag=first_new.tag or "",
        old_digest=first_old.digest or "",
        new_digest=first_new.digest or "",
        old_ref=str(first_old),
        new_ref=str(first_new),
        new_versions=", ".join(versions) or "new values",
        files=", ".join(result.files),
    )
    subject = template.format_map(fields)
    body = [f"- {h.path}:{h.line} {h.what}: {h.old} -> {h.new}" for h in hits if h.splices]
    body += [f"- {path}" for path in result.files if all(h.path != path for h in hits)]
    return "\n\n".join(part for part in (subject, "\n".join(body), "\n".join(trailers)) if part)


def _request(opts: Options) -> Request:
    images = tuple(imageref.parse(ref) for ref in opts.image)
    setters = {}
    for item in opts.setter:
        name, eq, ref = item.partition("=")
        if not eq or not name:
            raise UsageError(f"--setter {item!r}: expected NAME=REF")
        setters[split_marker(name)[0]] = imageref.parse(ref)
    sets = tuple(SetValue.parse(item) for item in opts.set)
    if not (images or setters or sets):
        raise UsageError("nothing to bump: give --image, --setter or --set")
    return Request(images, setters, sets, opts.files, opts.allow_downgrade)


def _diff(result: Plan) -> str:
    chunks: list[str] = []
    for change in result.changes:
        chunks += difflib.unified_diff(
            change.before.decode(errors="replace").splitlines(keepends=True),
            change.after.decode(errors="replace").splitlines(keepends=True),
            f"a/{change.path}",
            f"b/{change.path}",
        )
    return "".join(chunks)


def run(opts: Options, ctx: Context) -> StepResult:
    request = _request(opts)

    def compute(root: Path) -> Plan:
        result = plan(root, request)
        if result.found == 0 and not opts.allow_no_match:
            wanted = ", ".join([*opts.image, *opts.setter]) or "the values"
            raise CheckFailed(
                f"nothing in {opts.repo} references {wanted}",
                hint="check --image/--files, or pass --allow-no-match",
            )
        return result

    auth = (
        git.Auth(opts.git_token, opts.git_username, opts.ssh_key)
        if opts.git_token or opts.ssh_key
        else None
    )
    target = writer.Target(
        repo=opts.repo,
        branch=opts.branch,
        commit=opts.commit and not opts.dry_run,
        push=opts.push,
        retries=opts.retries,
        timeout=opts.timeout,
        identity=git.Identity(opts.author_name, opts.author_email),
        auth=auth,
    )
    trailers = source_trailers(opts, ctx.env)
    if opts.dry_run:
        with writer.checkout(target, ctx.env) as (repo, _):
            result = compute(repo.path if repo else Path(opts.repo))
        ctx.ci.out.write(_diff(result))
        return _result(result, writer.Outcome(result, result.changed), dry_run=True)
    with ctx.ci.group(f"bump {opts.repo}"):
        outcome = writer.write(
            target,
            compute,
            lambda p: commit_message(opts.message, p, trailers),
            ctx.env,
            log=ctx.ci.log,
        )
    for note in outcome.plan.notes:
        ctx.ci.log(f"note: {note}")
    return _result(outcome.plan, outcome)


def _result(result: Plan, outcome: writer.Outcome, dry_run: bool = False) -> StepResult:
    hits = [h for h in result.hits if h.splices]
    outputs = {
        "changed": "true" if outcome.changed and not dry_run else "false",
        "commit": outcome.commit,
        "branch": outcome.branch,
        "files": "\n".join(result.files),
        "old-ref": "\n".join(dict.fromkeys(str(h.old) for h in hits)),
        "new-ref": "\n".join(dict.fromkeys(str(h.new) for h in hits)),
    }
    rows = "".join(f"| `{h.path}:{h.line}` | {h.what} | `{h.old}` | `{h.new}` |\n" for h in hits)
    summary = (
        ("### bump\n\n| where | what | from | to |\n|---|---|---|---|\n" + rows)
        if rows
        else "### bump\n\nNothing to change.\n"
    )
    if dry_run:
        message = f"dry run: {len(result.files)} file(s) would change"
    elif not outcome.changed:
        message = f"nothing to change ({result.found} place(s) already up to date)"
    elif outcome.commit:
        message = (
            f"committed {outcome.commit[:12]} on {outcome.branch}: "
            f"{len(hits)} edit(s) in {len(result.files)} file(s)"
        )
    else:
        message = f"edited {len(result.files)} file(s) (no commit)"
    status: Status = "changed" if outcome.changed and not dry_run else "unchanged"
    return StepResult(status, message, outputs, summary)


STEP = Step(
    name="bump",
    summary="Write a new image reference (tag and digest) into the config repo and commit it.",
    examples=(
        "gitops-actions bump --repo https://git.example.com/platform/config.git "
        "--image ghcr.io/acme/shop:1.4.2@sha256:<digest>",
        "gitops-actions bump --repo . --no-commit --image ghcr.io/acme/shop:1.4.2 "
        "--files 'apps/shop/overlays/dev/*'",
        "gitops-actions bump --repo . --setter flux-system:shop=ghcr.io/acme/shop:1.4.2",
        "gitops-actions bump --repo . --set 'infra/prod.tfvars:image_tag=1.4.2'",
    ),
    options=Options,
    run=run,
    outputs=(
        ("changed", "true when a commit (or file edit) was made"),
        ("commit", "the commit on the target branch (the tip when nothing changed)"),
        ("branch", "the branch written to"),
        ("files", "changed files, one per line"),
        ("old-ref", "each image reference replaced, one per line"),
        ("new-ref", "each image reference written, one per line"),
    ),
)
