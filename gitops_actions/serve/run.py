"""One run: fetch base and head, render and diff them, validate the head, reply.

The reply is the one sticky comment (``gitops_actions.comment``) stamped with the job's
sequence number, so an older run never overwrites a newer one, and the commit status
``gitops-actions/diff``. The run stops without replying when its lease is lost or when a
newer head of the pull request is already waiting. Transient failures (the forge or git
unreachable, rate limits beyond the client's own waits) queue the job again with backoff.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tempfile
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from gitops_actions import git, kustomize
from gitops_actions.ci import Dialect
from gitops_actions.comment import sticky
from gitops_actions.comment.markers import clean_target
from gitops_actions.comment.parts import comment_parts
from gitops_actions.comment.render import Document, code, render
from gitops_actions.diff.tree import GitTree, Tree, existing
from gitops_actions.diffmodel import Diff
from gitops_actions.errors import ExternalError, GitopsError
from gitops_actions.forge import Comment, Forge, HttpOptions, Refs
from gitops_actions.retry import Backoff
from gitops_actions.serve.events import Job
from gitops_actions.serve.mirror import HeadMissing, Mirrors
from gitops_actions.serve.store import Claim, LeaseLost, Store
from gitops_actions.serve.telemetry import Log
from gitops_actions.serve.worker import Result
from gitops_actions.step import Context
from gitops_actions.steps import diff as diff_step
from gitops_actions.validate.findings import Outcome
from gitops_actions.validate.runner import Request, validate
from gitops_actions.yamlread.loader import read_values

STATUS_CONTEXT = "gitops-actions/diff"
SHOWN_FINDINGS = 20
# All that renders (kustomize, helm) see of the service's environment, for every pull
# request, from forks too: no token, no registry or cloud credentials, a proxy only when
# its URL carries no password; and a home of their own, so no credentials file is found.
RENDER_ENV = frozenset(
    {"PATH", "LANG", "LANGUAGE", "TZ", "TMPDIR", "USER", "LOGNAME", "SHELL", "TERM",
     "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
)  # fmt: skip
PROXIES = frozenset({"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"})
# Parsed files (by blob) kept between runs, per repository: a new head shares all but a few
# blobs with the last one, so discovery parses only what changed.
PARSED_FILES = 100_000  # most entries kept for one repository; beyond, it starts afresh
PARSED_REPOS = 16  # repositories whose parsed files are kept


class ReplyForge(Forge, Protocol):
    def pull_request_refs(self, *, project: str, number: int) -> Refs: ...

    def set_commit_status(
        self, *, project: str, sha: str, state: str, context: str, description: str
    ) -> None: ...


@dataclass(frozen=True)
class RunConfig:
    forge: str
    forge_url: str | None
    token: str | None
    state: Path
    env: Mapping[str, str]  # what git sees: no secrets in it (the token goes per fetch)
    target: str = "serve"
    render_workers: int = 2
    max_attempts: int = 6
    max_parts: int = 10
    http: HttpOptions = field(default_factory=lambda: HttpOptions(write_interval=0.0))


class Runner:
    def __init__(self, config: RunConfig, store: Store, log: Log) -> None:
        self.config, self.store, self.log = config, store, log
        env = dict(config.env)
        self.mirrors = Mirrors(config.state / "mirrors", config.forge, config.token, env)
        self.render_env = render_environment(env, config.state / "home")
        self.ci = Dialect(self.render_env, open(os.devnull, "w"))  # noqa: SIM115 (one)
        self._parsed: dict[str, dict[str, Any]] = {}
        self._parsed_lock = threading.Lock()
        self.forge()  # the client library is imported now, before the first delivery

    def forge(self) -> ReplyForge:
        token = self.config.token or ""
        if self.config.forge == "github":
            from gitops_actions.forge.github import DEFAULT_URL, GitHubForge

            url = self.config.forge_url or DEFAULT_URL
            return GitHubForge(token, url=url, http=self.config.http)
        from gitops_actions.forge.gitlab import DEFAULT_URL as GITLAB_URL
        from gitops_actions.forge.gitlab import GitLabForge

        url = self.config.forge_url or GITLAB_URL
        return GitLabForge(token, url=url, http=self.config.http)

    def __call__(self, claim: Claim) -> Result:
        job = claim.job
        fields = {"delivery": job.delivery, "pr": job.key}
        try:
            return self._run(claim)
        except LeaseLost:
            return Result("lost")
        except HeadMissing as err:
            # the forge moves a pull request's ref a moment after it sends the delivery, so a
            # head not there yet is fetched again; a newer head replaces the queued retry
            if job.attempt + 1 < self.config.max_attempts:
                pause = Backoff(base=1.0, cap=30.0, collisions=job.attempt).next()
                claim.job = replace(job, attempt=job.attempt + 1)
                self.log("head not fetched yet, will fetch again", level="warning",
                         error=err.one_line(), retry_in=round(pause, 2), **fields)  # fmt: skip
                return Result("retry", retry_in=pause)
            self.log("head moved on", level="warning", error=err.one_line(), **fields)
            return Result("stale")
        except ExternalError as err:
            if err.transient and job.attempt + 1 < self.config.max_attempts:
                pause = Backoff(base=2.0, cap=120.0, collisions=job.attempt).next()
                claim.job = replace(job, attempt=job.attempt + 1)
                self.log("run failed, will retry", level="warning", error=err.one_line(),
                         retry_in=round(pause, 2), **fields)  # fmt: skip
                return Result("retry", retry_in=pause)
            self.log("run failed", level="error", error=err.one_line(), **fields)
            self._status(job, "error", f"gitops-actions could not run: {err.message[:100]}")
            return Result("error")

    def _checkpoint(self, claim: Claim) -> None:
        if claim.lost.is_set():
            raise LeaseLost(f"{claim.job.key}: lease lost")

    def _status(self, job: Job, state: str, description: str) -> None:
        if not job.head_sha:
            return
        try:
            self.forge().set_commit_status(
                project=job.project,
                sha=job.head_sha,
                state=state,
                context=STATUS_CONTEXT,
                description=description,
            )
        except GitopsError as err:
            self.log("cannot set the commit status", level="error", error=err.one_line())

    def _run(self, claim: Claim) -> Result:
        forge = self.forge()
        job = claim.job
        if not job.head_sha:  # a comment command: the forge knows where the pull request is
            refs = forge.pull_request_refs(project=job.project, number=job.number)
            job = claim.job = replace(job, **asdict(refs))
        self._checkpoint(claim)
        clock = Clock()
        repo, base = self.mirrors.fetch(job)
        clock.lap("fetch")
        self._checkpoint(claim)
        scratch = Path(tempfile.mkdtemp(prefix="gitops-serve-"))
        try:
            try:
                diff = self._diff(repo.path, base, job.head_sha, scratch, job.project)
                clock.lap("diff")
                checked = self._validate(repo.path, job.head_sha, diff, scratch)
                clock.lap("validate")
                doc = with_findings(render(diff), checked, scratch)
                state = "failure" if checked and checked.errors else "success"
                description = _describe(diff, checked)
            except (GitopsError, OSError) as err:
                if isinstance(err, ExternalError) and err.transient:
                    raise
                message = err.one_line() if isinstance(err, GitopsError) else str(err)
                message = message.replace(str(scratch) + "/", "")
                doc = Document(f"### gitops-actions\n\nThe diff failed: {code(message)}\n")
                state, description = "failure", "the diff failed"
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        self._checkpoint(claim)
        if self.store.waiting(job.key):
            return Result("superseded")
        clock.lap("render")
        self._reply(forge, job, doc)
        clock.lap("comment")
        self._checkpoint(claim)
        forge.set_commit_status(
            project=job.project,
            sha=job.head_sha,
            state=state,
            context=STATUS_CONTEXT,
            description=description,
        )
        clock.lap("status")
        return Result(state, phases=clock.phases)

    def parsed(self, project: str) -> dict[str, Any]:
        """The parsed files kept for ``project`` (runs of one repository may share it)."""
        with self._parsed_lock:
            kept = self._parsed.pop(project, None)
            if kept is None or len(kept) > PARSED_FILES:
                kept = {}
            self._parsed[project] = kept  # the most recently used last
            while len(self._parsed) > PARSED_REPOS:
                del self._parsed[next(iter(self._parsed))]
            return kept

    def _diff(self, repo: Path, base: str, head: str, scratch: Path, project: str) -> Diff:
        out = scratch / "diff.json"
        options = diff_step.Options(
            repo=str(repo),
            base=base,
            head=head,
            format=(f"json={out}",),
            target=self.config.target,
            workers=self.config.render_workers,
        )
        diff_step.run(options, Context(self.ci, self.render_env), parsed=self.parsed(project))
        return Diff.from_json(out.read_text(encoding="utf-8"), path=str(out))

    def _validate(self, repo: Path, head: str, diff: Diff, scratch: Path) -> Outcome | None:
        """Validate the head's changed applications, with only the files they are built from."""
        changed = sorted({app.path or app.name for app in diff.apps if app.changes})
        if not changed:
            return None
        tree = GitTree(git.Repo(repo, env=self.config.env), head, scratch)
        root = tree.materialize(existing(tree, kustomize_inputs(tree, changed)))
        paths = tuple(str(root / name) for name in changed if (root / name).exists())
        if not paths:
            return None
        return validate(Request(paths=paths, workers=1, env=self.render_env))

    def _reply(self, forge: ReplyForge, job: Job, doc: Document) -> list[Comment]:
        parts = comment_parts(
            doc,
            target=clean_target(self.config.target),
            limit=forge.comment_limit,
            head=job.head_sha,
            run=job.seq,
            max_parts=self.config.max_parts,
        )
        outcome = sticky.publish(
            forge,
            project=job.project,
            number=job.number,
            target=clean_target(self.config.target),
            parts=parts,
            run=job.seq,
        )
        return list(outcome.comments)


def render_environment(env: Mapping[str, str], home: Path) -> dict[str, str]:
    """The environment of renders: ``RENDER_ENV`` of ``env``, and ``home`` as HOME."""
    home.mkdir(parents=True, exist_ok=True)
    kept = {
        k: v
        for k, v in env.items()
        if k in RENDER_ENV or k.startswith("LC_") or (k.upper() in PROXIES and "@" not in v)
    }
    return kept | {"HOME": str(home)}


def kustomize_inputs(tree: Tree, folders: Iterable[str]) -> list[str]:
    """The folders, and every file and folder their kustomizations read, transitively:
    what rendering them needs, read from a few kustomizations rather than the whole repo."""
    files = set(tree.files())
    found: set[str] = set()
    todo = list(folders)
    while todo:
        folder = todo.pop()
        if folder in found:
            continue
        found.add(folder)
        name = next((f"{folder}/{k}" for k in kustomize.KUSTOMIZATION_FILES
                     if f"{folder}/{k}" in files), None)  # fmt: skip
        if name is None:
            continue
        docs = read_values(tree.read(name), name)
        doc = docs[0] if docs and isinstance(docs[0], dict) else {}
        todo += [
            posixpath.normpath(posixpath.join(folder, ref)) for ref in kustomize.references(doc)
        ]
    return sorted(found)


class Clock:
    """Seconds spent in each phase of a run, for its log record."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str) -> None:
        now = time.perf_counter()
        self.phases[phase] = round(now - self._last, 3)
        self._last = now


def _describe(diff: Diff, checked: Outcome | None) -> str:
    apps = sum(1 for app in diff.apps if app.changes)
    text = f"{diff.changes} change(s) in {apps} application(s)"
    if checked is not None:
        text += f"; {checked.errors} validation error(s)"
    return text


def with_findings(doc: Document, checked: Outcome | None, scratch: Path) -> Document:
    """The diff comment, with the head's validation errors after it."""
    if checked is None or not checked.findings:
        return doc
    lines = ["", f"#### Validation of the head: {checked.summary_line()}", ""]
    for finding in checked.findings[:SHOWN_FINDINGS]:
        where = os.path.relpath(finding.file, scratch) if finding.file.startswith("/") else ""
        where = where.split("/", 1)[1] if "/" in where else finding.file
        lines.append(f"- {finding.severity}: {code(f'{where}:{finding.line}')} {finding.message}")
    if len(checked.findings) > SHOWN_FINDINGS:
        lines.append(f"- ... and {len(checked.findings) - SHOWN_FINDINGS} more")
    return Document(doc.body + "\n".join(lines) + "\n", doc.footer)
