"""bump: write a new image reference into the config repo as one small, safe commit."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_actions import imageref
from gitops_actions.edit.markers import split_marker
from gitops_actions.edit.plan import Plan, Request, SetValue, plan
from gitops_actions.errors import CheckFailed, UsageError
from gitops_actions.step import Context, Step, StepResult, option
from gitops_actions.steps.delivery import OUTPUTS, WriteOptions, deliver


@dataclass(frozen=True)
class Options(WriteOptions):
    commit: bool = option(
        "commit (and push) the change; --no-commit only edits files", default=True
    )
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
    files: tuple[str, ...] = option(
        "only search files matching this glob (repeatable)", default=(), metavar="GLOB"
    )
    allow_downgrade: bool = option("allow a lower semver tag than the current one", default=False)
    allow_no_match: bool = option("succeed when nothing references the image", default=False)
    force_pin: bool = option(
        "replace a semver range (chart version, OCIRepository semver) with the exact version",
        default=False,
    )
    verify_image: bool = option(
        "before writing, ask each --image's registry (HTTP API v2) that its tag serves its "
        "digest; refuse (exit 1) when it does not",
        default=False,
    )


def request_of(opts: Options) -> Request:
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
    return Request(images, setters, sets, opts.files, opts.allow_downgrade, opts.force_pin)


def planner(request: Request, *, allow_no_match: bool, where: str) -> Callable[[Path], Plan]:
    """A fresh plan on whatever tree the writer hands over; nothing found is an error."""

    def compute(root: Path) -> Plan:
        result = plan(root, request)
        if result.found == 0 and not allow_no_match:
            wanted = ", ".join([*map(str, request.images), *request.setters]) or "the values"
            raise CheckFailed(
                f"nothing in {where} references {wanted}",
                hint="check --image/--files, or pass --allow-no-match",
            )
        return result

    return compute


def verify(images: tuple[imageref.ImageRef, ...], env: Mapping[str, str]) -> None:
    """Each tag@digest must be what its registry serves: no config pins an image the
    registry does not serve."""
    from gitops_actions import retry
    from gitops_actions.builders import publish, registry

    deadline = retry.Deadline.after(60)
    for ref in images:
        if not (ref.tag and ref.digest):
            raise UsageError(f"--verify-image needs tag and digest: {ref}")
        credentials = registry.from_env(registry.registry_of(ref), env)
        publish.verify(ref, ref.digest, credentials, deadline)


def run(opts: Options, ctx: Context) -> StepResult:
    request = request_of(opts)
    if opts.verify_image:
        verify(request.images, ctx.env)
    names = [r.short_name for r in request.images] + [n.split(":")[-1] for n in request.setters]
    compute = planner(request, allow_no_match=opts.allow_no_match, where=opts.repo)
    review = "-".join(dict.fromkeys(names)) or "values"
    return deliver(opts, ctx, compute, label="bump", review_name=review, commit=opts.commit)


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
        "gitops-actions bump --repo $CONFIG_REPO --image $REF --pull-request --forge github",
    ),
    options=Options,
    run=run,
    outputs=OUTPUTS,
)
