"""What bump, promote and rollback share: how a planned change reaches the config repo.

Options for the repo, identity, auth, trailers and pull requests; one ``deliver`` that
dry-runs, commits to the branch, or opens a pull request; one way to report the result.
"""

from __future__ import annotations

import difflib
import re
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from gitops_actions import git
from gitops_actions.errors import UsageError
from gitops_actions.secrets import REDACTOR
from gitops_actions.step import Context, Status, StepResult, option

if TYPE_CHECKING:  # the writer and the edit engine load only when a step writes
    from gitops_actions import writer
    from gitops_actions.edit.plan import Plan


@dataclass(frozen=True)
class WriteOptions:
    repo: str = option(
        "config repo: a directory, a local clone, or a remote URL",
        default=".",
        metavar="PATH_OR_URL",
    )
    branch: str | None = option(
        "target branch (default: the remote's default branch, or the clone's current branch)",
        metavar="BRANCH",
    )
    push: bool = option("push the commit to the clone's origin", default=True)
    dry_run: bool = option("show the diff, change nothing", default=False)
    message: str = option(
        "commit message template (see the README for placeholders)",
        default="bump {names} to {new_versions}",
    )
    pull_request: bool | None = option(
        "push to gitops/<branch>/<name> and open or update a pull (merge) request instead of "
        "committing to the branch"
    )
    forge: str = option(
        "where pull requests go (default: github in GitHub Actions, gitlab in "
        "GitLab CI, else local)",
        default="auto",
        choices=("auto", "github", "gitlab", "local"),
    )
    forge_url: str | None = option("forge API URL (default: from CI variables)", metavar="URL")
    project: str | None = option(
        "project on the forge, e.g. platform/config (default: from --repo)", metavar="PATH"
    )
    forge_dir: str = option(
        "directory the local forge writes pull requests to", default=".gitops-forge", metavar="DIR"
    )
    author_name: str = option("commit author and committer name", default=git.BOT.name)
    author_email: str = option("commit author and committer e-mail", default=git.BOT.email)
    source_repository: str | None = option("Source-Repository trailer (default: from CI)")
    source_commit: str | None = option("Source-Commit trailer (default: from CI)")
    pipeline: str | None = option("Pipeline trailer (default: from CI)", metavar="URL")
    git_token: str | None = option("HTTPS token for the config repo", secret=True, metavar="SECRET")
    git_username: str = option("user name sent with --git-token", default="x-access-token")
    ssh_key: str | None = option("SSH deploy key file for the config repo", metavar="FILE")
    retries: int | None = option(
        "deprecated and ignored: a rejected push is retried until --timeout", metavar="N"
    )
    timeout: float = option(
        "seconds the whole write may take (clone, every retry and push) before giving up",
        default=300.0,
    )


def source_trailers(opts: WriteOptions, env: Mapping[str, str]) -> list[str]:
    """Trailers linking the commit back to the source commit and pipeline."""
    github = env.get("GITHUB_SERVER_URL", "https://github.com")
    repo = env.get("GITHUB_REPOSITORY")
    run_id = env.get("GITHUB_RUN_ID")
    values = {
        "Source-Repository": opts.source_repository
        or (f"{github}/{repo}" if repo else env.get("CI_PROJECT_URL")),
        "Source-Commit": opts.source_commit or env.get("GITHUB_SHA") or env.get("CI_COMMIT_SHA"),
        "Pipeline": opts.pipeline
        or (f"{github}/{repo}/actions/runs/{run_id}" if repo and run_id else None)
        or env.get("CI_PIPELINE_URL"),
    }
    return [f"{key}: {value}" for key, value in values.items() if value]


def _format(template: str, fields: Mapping[str, str]) -> str:
    """``template`` with each ``{name}`` replaced: only the documented names, no format
    spec, conversion, attribute or index (``{names:>9}``, ``{names.x}`` are refused)."""
    out: list[str] = []
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as err:
        raise UsageError(f"--message {template!r}: {err}") from None
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name not in fields:
            known = ", ".join(f"{{{k}}}" for k in fields)
            raise UsageError(f"--message: unknown placeholder {{{name}}}", hint=f"use {known}")
        if spec or conversion:
            raise UsageError(
                f"--message: {{{name}}} takes no format spec or conversion", hint=f"use {{{name}}}"
            )
        out.append(fields[name])
    return "".join(out)


def commit_message(
    template: str, result: Plan, trailers: list[str], extra: Mapping[str, str] | None = None
) -> str:
    """Subject from ``template``, a body listing each edit, then the trailers."""
    from gitops_actions.imageref import ImageRef

    hits = [h for h in result.hits if h.splices] or list(result.hits)
    first_old = hits[0].old if hits else ImageRef("")
    first_new = hits[0].new if hits else ImageRef("")
    names = sorted({h.new.short_name for h in hits}) or ["values"]
    versions = sorted({h.new.tag or (h.new.digest or "")[:19] for h in hits} - {""})
    fields = dict(
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
        **(extra or {}),
    )
    subject = _format(template, fields)
    body = [f"- {h.path}:{h.line} {h.what}: {h.old} -> {h.new}" for h in hits if h.splices]
    body += [f"- {path}" for path in result.files if all(h.path != path for h in hits)]
    return "\n\n".join(part for part in (subject, "\n".join(body), "\n".join(trailers)) if part)


def project_from(repo: str) -> str:
    """``https://git.example.com/platform/config.git`` is ``platform/config``."""
    path = re.sub(r"^[a-z][a-z0-9+.-]*://[^/]+/|^[\w.-]+@[\w.-]+:", "", repo.rstrip("/"))
    return path.removesuffix(".git").strip("/") or repo


def make_forge(opts: WriteOptions, env: Mapping[str, str]) -> Any:
    from gitops_actions import forge

    name = opts.forge
    if name == "auto":
        name = (
            "github"
            if env.get("GITHUB_ACTIONS") == "true"
            else ("gitlab" if env.get("GITLAB_CI") == "true" else "local")
        )
    from gitops_actions.retry import Deadline

    deadline = Deadline.after(opts.timeout)  # as the writer's: --timeout bounds it all
    return forge.make_forge(
        name, env, url=opts.forge_url, directory=opts.forge_dir, deadline=deadline
    )


MAX_TIMEOUT = 86400  # a day: beyond that a typo, not a budget


def target_of(opts: WriteOptions, *, commit: bool = True, depth: int | None = 1) -> writer.Target:
    from gitops_actions import writer

    if not 0 < opts.timeout <= MAX_TIMEOUT:
        raise UsageError(f"--timeout {opts.timeout:g}: give seconds between 0 and {MAX_TIMEOUT}")
    if opts.ssh_key and not Path(opts.ssh_key).is_file():
        raise UsageError("--ssh-key: give the path of the key file, not the key")
    repo, username, token = _credentials_out_of(opts.repo)
    if token and not opts.git_token:  # user:token@ in the URL: moved to a header
        opts = replace(opts, git_token=token, git_username=username or opts.git_username)
    auth = (
        git.Auth(opts.git_token, opts.git_username, opts.ssh_key)
        if opts.git_token or opts.ssh_key
        else None
    )
    return writer.Target(
        repo=repo,
        branch=opts.branch,
        commit=commit and not opts.dry_run,
        push=opts.push,
        timeout=opts.timeout,
        identity=git.Identity(opts.author_name, opts.author_email),
        auth=auth,
        depth=depth,
    )


def _credentials_out_of(url: str) -> tuple[str, str, str]:
    """``https://user:token@host/x`` is ``https://host/x``, ``user``, ``token`` (learned
    as a secret), so the token never reaches argv or ``.git/config``."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.password is None:
        return url, "", ""
    REDACTOR.learn(parts.password)
    REDACTOR.learn(unquote(parts.password))
    host = parts.hostname or ""
    netloc = host + (f":{parts.port}" if parts.port else "")
    return (
        urlunsplit(parts._replace(netloc=netloc)),
        unquote(parts.username or ""),
        unquote(parts.password),
    )


def unified_diff(result: Plan) -> str:
    chunks: list[str] = []
    for change in result.changes:
        chunks += difflib.unified_diff(
            change.before.decode(errors="replace").splitlines(keepends=True),
            change.after.decode(errors="replace").splitlines(keepends=True),
            f"a/{change.path}",
            f"b/{change.path}",
        )
    return "".join(chunks)


def deliver(
    opts: WriteOptions,
    ctx: Context,
    compute: Callable[[Path], Plan],
    *,
    label: str,
    review_name: str,
    fields: Mapping[str, str] | None = None,
    depth: int | None = 1,
    commit: bool = True,
) -> StepResult:
    """Dry-run, commit to the branch, or open a pull request: whatever ``opts`` asks."""
    from gitops_actions import writer
    from gitops_actions.edit.plan import Plan

    target = target_of(opts, commit=commit, depth=depth)
    trailers = source_trailers(opts, ctx.env)
    if opts.retries is not None:
        ctx.ci.log("warning: --retries is deprecated and ignored: pushes retry until --timeout")

    def message(p: Plan) -> str:
        return commit_message(opts.message, p, trailers, fields)

    message(Plan((), (), 0))  # a bad --message fails here, before anything is written

    if opts.dry_run:
        with writer.checkout(target, ctx.env) as (repo, _):
            result = compute(repo.path if repo else Path(opts.repo))
        ctx.ci.out.write(unified_diff(result))
        return report(
            label, result, writer.Outcome(result, result.changed), dry_run=True, repo=target.repo
        )
    url = ""
    with ctx.ci.group(f"{label} {target.repo}"):
        if opts.pull_request:
            review = writer.Review(
                make_forge(opts, ctx.env),
                opts.project or project_from(opts.repo),
                review_name,
                title=lambda p: message(p).splitlines()[0],
            )
            outcome, url = writer.write_pull_request(
                target, review, compute, message, ctx.env, log=ctx.ci.log
            )
        else:
            outcome = writer.write(target, compute, message, ctx.env, log=ctx.ci.log)
    for note in outcome.plan.notes:
        ctx.ci.log(f"note: {note}")
    return report(label, outcome.plan, outcome, url=url, repo=target.repo)


OUTPUTS = (
    ("changed", "true when a commit (or file edit) was made"),
    ("commit", "the new commit (the tip when nothing changed)"),
    ("branch", "the branch written to"),
    ("files", "changed files, one per line"),
    ("old-ref", "each image reference replaced, one per line"),
    ("new-ref", "each image reference written, one per line"),
    ("pull-request-url", "the pull (merge) request opened or updated, with --pull-request"),
    ("repo", "the config repo (URL or path, without credentials)"),
    (
        "revision",
        "the commit on the target branch that carries the change, for handoff (empty with "
        "--pull-request: handoff waits for the merge)",
    ),
)


def report(
    label: str,
    result: Plan,
    outcome: writer.Outcome,
    *,
    dry_run: bool = False,
    url: str = "",
    repo: str = "",
) -> StepResult:
    hits = [h for h in result.hits if h.splices]
    changed = outcome.changed and not dry_run
    outputs = {
        "changed": "true" if changed else "false",
        "commit": outcome.commit,
        "branch": outcome.branch,
        "files": "\n".join(result.files),
        "old-ref": "\n".join(dict.fromkeys(str(h.old) for h in hits)),
        "new-ref": "\n".join(dict.fromkeys(str(h.new) for h in hits)),
        "pull-request-url": url,
        "repo": repo,
        "revision": "" if dry_run or url else outcome.commit,
    }
    rows = "".join(f"| `{h.path}:{h.line}` | {h.what} | `{h.old}` | `{h.new}` |\n" for h in hits)
    summary = f"### {label}\n\n" + (
        "| where | what | from | to |\n|---|---|---|---|\n" + rows
        if rows
        else "\n".join(f"- `{f}`" for f in result.files) + "\n"
        if result.files
        else "Nothing to change.\n"
    )
    edits = f"{len(hits) or len(result.files)} edit(s) in {len(result.files)} file(s)"
    if dry_run:
        message = f"dry run: {len(result.files)} file(s) would change"
    elif not outcome.changed:
        kept = [h.kept for h in result.hits if h.kept and not h.splices]
        current = result.found - len(kept)
        said = [f"{current} place(s) already up to date"] if current or not kept else []
        said += [f"left alone: {'; '.join(dict.fromkeys(kept))}"] if kept else []
        message = f"nothing to change ({', '.join(said)})"
        message += f"; pull request {url}" if url else ""
    elif url:
        message = f"pull request {url} carries {outcome.commit[:12]} on {outcome.branch}"
    elif outcome.commit:
        message = f"committed {outcome.commit[:12]} on {outcome.branch}: {edits}"
    else:
        message = f"edited {len(result.files)} file(s) (no commit)"
    status: Status = "changed" if changed else "unchanged"
    return StepResult(status, message, outputs, summary)
