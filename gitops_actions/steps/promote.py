"""promote: copy the exact image (tag and digest) deployed in one environment to another."""

from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, replace
from pathlib import Path

from gitops_actions import imageref
from gitops_actions.edit.images import KUSTOMIZATION_NAMES, Planner
from gitops_actions.edit.plan import Plan, Request, inside, iter_files, plan, read
from gitops_actions.edit.source import Source
from gitops_actions.errors import CheckFailed, InputError, UsageError
from gitops_actions.imageref import ImageRef
from gitops_actions.step import Context, Step, StepResult, option
from gitops_actions.steps.delivery import OUTPUTS, WriteOptions, deliver


@dataclass(frozen=True)
class Options(WriteOptions):
    image: str = option(
        "image repository to promote, e.g. ghcr.io/acme/shop", required=True, metavar="REPO"
    )
    source: str = option(
        "environment to copy from: a path in the repo, or a directory name such as staging",
        required=True,
        name="from",
        metavar="PATH_OR_ENV",
    )
    to: str = option(
        "environment to promote to: a path, or a directory name such as prod",
        required=True,
        metavar="PATH_OR_ENV",
    )
    protected: tuple[str, ...] = option(
        "targets promoted through a pull request unless --no-pull-request (globs on the "
        "environment name or path, repeatable)",
        default=("prod*", "production*", "*/prod*"),
        metavar="GLOB",
    )
    message: str = option(
        "commit message template (see the README for placeholders)",
        default="promote {names} {new_versions} from {source} to {target}",
    )
    allow_downgrade: bool = option(
        "allow promoting a lower version than the target has", default=False
    )


def locate(root: Path, spec: str, repository: ImageRef) -> str:
    """A path in the repo for ``spec``: the path itself, or the one directory of that name
    (among several, the one that references the image)."""
    spec = spec.strip("/")
    if (root / spec).exists():
        inside(root, spec)
        return spec
    found = []
    for folder, dirs, _ in os.walk(root):
        dirs[:] = [d for d in dirs if d != ".git" and not os.path.islink(os.path.join(folder, d))]
        found += [os.path.relpath(os.path.join(folder, d), root) for d in dirs if d == spec]
    found = [f.replace(os.sep, "/") for f in found]
    if len(found) > 1:
        found = [f for f in found if _references(root, f, repository)] or found
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(f"no environment {spec!r}: neither a path nor a directory name")
    raise UsageError(
        f"environment {spec!r} is ambiguous: {', '.join(sorted(found))}",
        hint="give its path instead",
    )


def _references(root: Path, location: str, repository: ImageRef) -> bool:
    try:
        deployed(root, location, repository)
    except CheckFailed as err:
        return "several versions" in err.message
    return True


def _glob(root: Path, location: str) -> str:
    return f"{location}/*" if (root / location).is_dir() else location


def deployed(root: Path, location: str, repository: ImageRef) -> ImageRef:
    """The one reference (tag and digest) of ``repository`` deployed under ``location``."""
    probe = repository.with_(tag="probe")
    seen: dict[str, ImageRef] = {}
    for rel in iter_files(root, (_glob(root, location),)):
        source = Source(rel, read(root, rel))
        kustomization = rel.rsplit("/", 1)[-1] in KUSTOMIZATION_NAMES
        for hit in Planner(source, probe).plan(kustomization=kustomization):
            found = repository.with_(tag=hit.old.tag, digest=hit.old.digest)
            seen.setdefault(str(found), found)
    if not seen:
        raise CheckFailed(f"{location}: {repository.repository} is not deployed there")
    if len(seen) > 1:
        raise CheckFailed(
            f"{location} holds several versions of {repository.repository}: "
            f"{', '.join(sorted(seen))}",
            hint="narrow --from to one of them",
        )
    ref = next(iter(seen.values()))
    if not (ref.tag or ref.digest):
        raise CheckFailed(f"{location}: {repository.repository} has no tag or digest to promote")
    return ref


def run(opts: Options, ctx: Context) -> StepResult:
    repository = imageref.parse(opts.image)
    if repository.tag or repository.digest:
        raise UsageError(
            f"--image {opts.image!r}: give the repository; the version comes from --from"
        )

    def compute(root: Path) -> Plan:
        source = locate(root, opts.source, repository)
        target = locate(root, opts.to, repository)
        ref = deployed(root, source, repository)
        result = plan(
            root,
            Request(
                images=(ref,), files=(_glob(root, target),), allow_downgrade=opts.allow_downgrade
            ),
        )
        if result.found == 0:
            raise CheckFailed(f"{target}: nothing references {repository.repository}")
        return result

    env_name = opts.to.strip("/").rsplit("/", 1)[-1]
    if opts.pull_request is None:
        protected = any(
            fnmatch.fnmatchcase(name, glob)
            for glob in opts.protected
            for name in (env_name, opts.to.strip("/"))
        )
        opts = replace(opts, pull_request=protected)
    return deliver(
        opts,
        ctx,
        compute,
        label="promote",
        review_name=f"promote-{repository.short_name}-{env_name}",
        fields={"source": opts.source, "target": opts.to},
    )


STEP = Step(
    name="promote",
    summary="Copy the exact image (tag and digest) deployed in one environment to another.",
    examples=(
        "gitops-actions promote --repo $CONFIG_REPO --image ghcr.io/acme/shop "
        "--from staging --to prod",
        "gitops-actions promote --repo . --image ghcr.io/acme/shop "
        "--from apps/shop/overlays/dev --to apps/shop/overlays/staging --no-pull-request",
    ),
    options=Options,
    run=run,
    outputs=OUTPUTS,
)
