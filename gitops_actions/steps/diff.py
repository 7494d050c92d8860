"""diff: render the config repo at two refs and compare resource by resource, offline."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops_actions import apps, git, kustomize
from gitops_actions.apps import EntryPoint
from gitops_actions.comment import render as markdown
from gitops_actions.diff import compare
from gitops_actions.diff.render import Job, render_all
from gitops_actions.diff.tree import (
    GitTree,
    Recorder,
    Tree,
    changed_paths,
    existing,
    scratch_parent,
)
from gitops_actions.diffmodel import App as AppDiff
from gitops_actions.diffmodel import Diff, Ref
from gitops_actions.errors import ExternalError, InputError, UsageError
from gitops_actions.secrets import REDACTOR, write_redacted
from gitops_actions.step import Context, Step, StepResult, option


@dataclass(frozen=True)
class Options:
    repo: str = option("the config repo checkout", default=".", metavar="DIR")
    base: str | None = option(
        "base ref (default: the PR/MR target branch, else HEAD~1)", metavar="REF"
    )
    head: str = option("head ref", default="HEAD", metavar="REF")
    merge_base: bool = option("compare from the merge base of base and head", default=True)
    format: tuple[str, ...] = option(
        "markdown (the PR comment) or json, optionally =FILE (repeatable; default: markdown "
        "to stdout)",
        default=(),
        metavar="FORMAT[=FILE]",
    )
    output: str | None = option("write the first format here instead of stdout", metavar="FILE")
    all: bool = option(
        "render and diff every application, not only the affected ones", default=False
    )
    filter: tuple[str, ...] = option(
        "hide changes: label:KEY, annotation:GLOB or path:a.b (repeatable; adds to the defaults)",
        default=(),
        metavar="RULE",
    )
    default_filters: bool = option(
        "apply the default noise filters (helm.sh/chart and "
        "app.kubernetes.io/version labels, checksum/* "
        "annotations)",
        default=True,
    )
    redact: tuple[str, ...] = option(
        "also redact this path: a.b or Kind:a.b (repeatable)", default=(), metavar="PATH"
    )
    target: str = option("name of this diff in the comment marker", default="config")
    artifact_url: str | None = option("where the full diff can be downloaded", metavar="URL")
    workers: int = option(
        "renders run in parallel (default: one per CPU, at least 2)", default=0, metavar="N"
    )
    repo_url: str = option(
        "URL of this repo, to tell which Argo CD and Flux sources point at it "
        "(default: the origin remote)",
        default="",
        metavar="URL",
    )


def default_base(env: Mapping[str, str]) -> str:
    if env.get("GITHUB_BASE_REF"):
        return f"origin/{env['GITHUB_BASE_REF']}"
    if env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA"):
        return env["CI_MERGE_REQUEST_DIFF_BASE_SHA"]
    if env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME"):
        return f"origin/{env['CI_MERGE_REQUEST_TARGET_BRANCH_NAME']}"
    return "HEAD~1"


def _resolve(repo: git.Repo, ref: str) -> str:
    try:
        return repo.head_sha(ref)
    except ExternalError:
        raise UsageError(
            f"{ref}: no such commit in {repo.path}",
            hint="fetch it first (actions/checkout with fetch-depth: 0)",
        ) from None


def run(opts: Options, ctx: Context, *, parsed: dict[str, Any] | None = None) -> StepResult:
    """The diff; ``parsed`` (parsed files by blob) may be kept by a caller across runs."""
    for rule in opts.filter:
        kind, sep, what = rule.partition(":")
        if kind not in ("label", "annotation", "path") or not sep or not what:
            raise UsageError(f"--filter {rule!r}: expected label:KEY, annotation:GLOB or path:a.b")
    if opts.workers < 0:
        raise UsageError(f"--workers {opts.workers}: give 1 or more (0: one per CPU)")
    repo = git.Repo(opts.repo)
    base_ref = opts.base or default_base(ctx.env)
    head = _resolve(repo, opts.head)
    base = _resolve(repo, base_ref)
    if opts.merge_base:
        found = repo.git("merge-base", base, head, check=False).stdout.strip()
        base = found or base
    filters = (compare.DEFAULT_FILTERS if opts.default_filters else ()) + opts.filter
    formats = _destinations(opts)
    if any(not path for _, path in formats):
        ctx.ci.reserve_stdout()  # the document is the only thing on stdout
    options = compare.Options(filters=filters, redact=opts.redact)
    with ctx.ci.group(f"diff {base[:12]}..{head[:12]}"), scratch() as tmp:
        with ThreadPoolExecutor(max_workers=2) as pool:  # the two listings at once
            old, new = pool.map(lambda sha: GitTree(repo, sha, tmp), (base, head))
        old.derive(new)  # the head is searched first: the base searches only what differs
        report = diff_trees(
            old,
            new,
            options,
            everything=opts.all,
            workers=opts.workers or max(2, os.cpu_count() or 2),
            repo_url=opts.repo_url or apps.remote_url(repo.path),
            parsed=parsed,
        )
    result = Diff(
        target=opts.target,
        base=Ref(base_ref, base),
        head=Ref(opts.head, head),
        apps=report.apps,
        rendered=report.rendered,
        filters=tuple(sorted(report.filters.items())),
        full_artifact=opts.artifact_url,
    )
    for kind, path in formats:
        text = _format(kind, result, report)
        if path:
            write_redacted(path, text)
            ctx.ci.log(f"wrote {kind} diff to {path}")
        else:
            ctx.ci.out.write(text if text.endswith("\n") else text + "\n")
    for line in report.skipped:
        ctx.ci.log(f"skipped {line}")
    count, changed = result.changes, sum(1 for a in result.apps if a.changes)
    outputs = {"changed": "true" if count else "false", "changes": str(count)}
    rendered = ", ".join(f"{n} {r}" for r, n in sorted(report.renderers.items())) or "nothing"
    message = (
        f"{count} change(s) in {changed} application(s); rendered "
        f"{len(report.rendered)} application(s) ({rendered})"
    )
    summary = markdown.render(result).text if count else ""
    return StepResult("changed" if count else "unchanged", message, outputs, summary)


def _destinations(opts: Options) -> list[tuple[str, str]]:
    """(format, file) pairs; an empty file is stdout."""
    found = []
    for index, spec in enumerate(opts.format or ("markdown",)):
        kind, _, path = spec.partition("=")
        if kind not in ("json", "markdown"):
            raise UsageError(f"--format {kind}: expected json or markdown")
        found.append((kind, path or ((opts.output or "") if index == 0 else "")))
    return found


def _format(kind: str, result: Diff, report: Report) -> str:
    if kind == "json":
        return (
            json.dumps(
                result.to_dict() | {"skipped": list(report.skipped), "renderers": report.renderers},
                indent=2,
                sort_keys=True,
            )
            + "\n"
        )
    if kind == "markdown":
        return markdown.render(result).text
    raise UsageError(f"--format {kind}: expected json or markdown")


@dataclass(frozen=True)
class Report:
    apps: tuple[AppDiff, ...]
    rendered: tuple[str, ...]
    renderers: dict[str, int]
    skipped: tuple[str, ...]
    filters: dict[str, int]


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="gitops-diff-", dir=scratch_parent()))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def diff_trees(
    base: Tree,
    head: Tree,
    options: compare.Options,
    *,
    everything: bool = False,
    workers: int = 2,
    repo_url: str = "",
    parsed: dict[str, Any] | None = None,
) -> Report:
    """Render what differs between two trees and compare it, entry point by entry point
    (the application model: Flux Kustomizations, Argo CD apps, kustomize roots, charts).
    ``parsed`` caches parsed files by blob for both trees, and for later calls if kept."""
    parsed = {} if parsed is None else parsed
    changed = changed_paths(base, head)
    jobs: dict[str, tuple[EntryPoint | None, EntryPoint | None]] = {}
    same: set[str] = set()
    reached = None
    if not everything:  # the entry points the change reaches, when that is quick to tell
        reached = apps.reached(head, base, changed, parsed=parsed, same=_same_for_discovery)
    if reached is not None:
        jobs = {e.name: (e, e) for e in sorted(reached, key=lambda e: e.name)}
    else:
        jobs, same = _discovered(base, head, changed, everything, repo_url, parsed)
        # the change touches nothing discovery read: both refs have the same entry points,
        # and only those fed by a changed file can render differently
    for pair in jobs.values():
        for point in pair:
            outside = [i for i in _inputs(point) if i == ".." or i.startswith("../")]
            if point is not None and outside:  # kustomize would refuse it
                raise InputError(
                    f"{point.name} is built from {outside[0]}, outside the repository",
                    path=point.path,
                )
    roots = [
        tree.materialize(
            existing(tree, {i for pair in jobs.values() if pair[side] for i in _inputs(pair[side])})
        )
        for side, tree in enumerate((base, head))
    ]
    with tempfile.TemporaryDirectory(prefix="gitops-diff-build-", dir=scratch_parent()) as tmp:
        keys, todo = [], []
        for name, pair in jobs.items():
            for side, point in enumerate(pair):
                if point is not None:
                    keys.append((name, side))
                    todo.append(Job(roots[side], point, Path(tmp)))
        rendered = dict(zip(keys, render_all(todo, max(1, workers)), strict=True))
    for item in rendered.values():  # before anything is compared or printed
        REDACTOR.learn_resources(item.resources)
    for name in same:
        rendered[(name, 0)] = rendered[(name, 1)]
    found: list[AppDiff] = []
    skipped: list[str] = []
    renderers = Counter[str]()
    for name in jobs:
        old_r, new_r = rendered.get((name, 0)), rendered.get((name, 1))
        notes = []
        for item in {id(r): r for r in (old_r, new_r) if r}.values():
            renderers[item.renderer or "none"] += 1
            if item.error and item is new_r:  # the change under review is bad input
                raise InputError(f"{name}: {item.error}", path=item.entry.path)
            if item.error:  # broken before the change: say so, and diff the others
                skipped.append(f"{name}: at the base: {item.error}")
                notes.append(f"{item.error} (at the base)")
            if item.skipped:
                skipped.append(f"{name}: {item.skipped}")
                notes.append(item.skipped)
        broken = any(r is not None and r.error for r in (old_r, new_r))
        changes = (
            []
            if broken
            else compare.compare(  # not "everything removed"
                old_r.resources if old_r else (),
                new_r.resources if new_r else (),
                options,
                label=name,
            )
        )
        note = f"not rendered: {notes[-1]}" if notes else ""
        either = new_r or old_r
        if (changes or note) and either is not None:
            found.append(AppDiff(name, tuple(changes), note=note, path=either.entry.path))
    return Report(
        tuple(found), tuple(sorted(jobs)), dict(renderers), tuple(skipped), dict(options.hidden)
    )


def _discovered(
    base: Tree,
    head: Tree,
    changed: list[str],
    everything: bool,
    repo_url: str,
    parsed: dict[str, Any],
) -> tuple[dict[str, tuple[EntryPoint | None, EntryPoint | None]], set[str]]:
    """What to render at each ref, from the whole repo discovered: (jobs, names rendered
    once for both refs)."""
    recorder = Recorder(head)
    model = apps.discover(recorder, repo_url=repo_url, parsed=parsed, grouped=False)
    after = {e.name: e for e in model.entries}
    jobs: dict[str, tuple[EntryPoint | None, EntryPoint | None]] = {}
    same: set[str] = set()
    if not recorder.depends_on(base, changed, _same_for_discovery):
        # the change touches nothing discovery read: both refs have the same entry points,
        # and only those fed by a changed file can render differently
        touched = {e.name for e in model.affected(changed)}
        for name, entry in sorted(after.items()):
            if name in touched:
                jobs[name] = (entry, entry)
            elif everything:
                jobs[name] = (None, entry)
                same.add(name)  # rendered once, for both sides
        return jobs, same
    before = {
        e.name: e
        for e in apps.discover(base, repo_url=repo_url, parsed=parsed, grouped=False).entries
    }
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name), after.get(name)
        if old and new and apps.fingerprint(base, old) == apps.fingerprint(head, new):
            if not everything:
                continue
            same.add(name)  # rendered once, for both sides
            old = None
        jobs[name] = (old, new)
    return jobs, same


def _same_for_discovery(path: str, old: bytes, new: bytes) -> bool:
    """A kustomization edited only where discovery does not look (an image bump)."""
    name = path.rpartition("/")[2]
    return name in kustomize.KUSTOMIZATION_FILES and kustomize.same_inputs(old, new, path)


def _inputs(entry: EntryPoint | None) -> tuple[str, ...]:
    return apps.all_inputs(entry) if entry else ()


STEP = Step(
    name="diff",
    summary="Render the config repo at two refs and diff the resulting resources.",
    examples=(
        "gitops-actions diff --repo . --base origin/main --head HEAD --format json "
        "--output diff.json",
        "gitops-actions diff --repo . --format markdown=diff.md --format json=diff.json",
        "gitops-actions diff --repo . --all --filter annotation:deployment.kubernetes.io/*",
    ),
    options=Options,
    run=run,
    outputs=(
        ("changed", "true when any resource changes"),
        ("changes", "how many resources change"),
    ),
)
