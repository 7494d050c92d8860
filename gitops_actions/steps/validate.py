"""validate: check manifests offline against Kubernetes and CRD schemas, strictly."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gitops_actions.ci import GitHub
from gitops_actions.errors import InputError, UsageError
from gitops_actions.secrets import write_redacted
from gitops_actions.step import Context, Step, StepResult, option
from gitops_actions.validate import report, schemas
from gitops_actions.validate.findings import Outcome
from gitops_actions.validate.runner import Request, validate


@dataclass(frozen=True)
class Options:
    paths: tuple[str, ...] = option(
        "files and directories to validate (.yaml, .yml, .json; kustomizations and Helm "
        "charts are rendered)",
        default=(),
        positional=True,
        required=True,
        metavar="PATH",
    )
    kubernetes_version: str = option(
        f"Kubernetes version whose schemas and API removals apply "
        f"({schemas.OLDEST[0]}.{schemas.OLDEST[1]} to {schemas.NEWEST[0]}.{schemas.NEWEST[1]})",
        default=schemas.DEFAULT_VERSION,
        metavar="X.Y",
    )
    crd: tuple[str, ...] = option(
        "file or directory of CustomResourceDefinitions to take schemas from (repeatable)",
        default=(),
        metavar="PATH",
    )
    skip: tuple[str, ...] = option(
        "do not validate this kind: Kind or apiVersion/Kind (repeatable)",
        default=(),
        metavar="KIND",
    )
    ignore_missing_schemas: bool = option(
        "accept kinds without a known schema instead of reporting them", default=False
    )
    format: tuple[str, ...] = option(
        "report format, optionally to a file: text, json, junit, sarif, codequality, github "
        "(repeatable; default: text, plus github in GitHub Actions)",
        default=(),
        metavar="NAME[=FILE]",
    )
    fail_on_warnings: bool = option(
        "fail on warnings (deprecated APIs) as well as errors", default=False
    )
    workers: int = option("worker processes (default: one per CPU)", default=0, metavar="N")
    exclude: tuple[str, ...] = option(
        "do not validate files or folders matching this glob, relative to the repo root "
        "(repeatable)",
        default=(),
        metavar="GLOB",
    )
    repo_url: str = option(
        "URL of this repo, to tell which Argo CD and Flux sources point at it "
        "(default: the origin remote)",
        default="",
        metavar="URL",
    )


def _formats(opts: Options, ctx: Context) -> list[tuple[str, str | None]]:
    chosen = list(opts.format) or (["text", "github"] if isinstance(ctx.ci, GitHub) else ["text"])
    wanted = []
    for item in chosen:
        name, sep, target = item.partition("=")
        name = name.strip().lower()
        if name == "gitlab":
            name = "codequality"
        if name not in report.REPORTERS:
            raise UsageError(
                f"--format {item!r}: unknown format", hint=f"use {', '.join(report.REPORTERS)}"
            )
        if name == "github" and sep:
            raise UsageError("--format github writes annotations; it takes no file")
        if sep and not target:
            raise UsageError(f"--format {item!r}: missing file after '='")
        wanted.append((name, target if sep else None))
    return wanted


def emit(outcome: Outcome, formats: list[tuple[str, str | None]], ctx: Context) -> None:
    for name, target in formats:
        if name == "github":
            report.annotate(outcome, ctx.ci)
            continue
        if target is None:
            # the step's message is the summary line, and the CLI prints it last
            if name == "text":
                ctx.ci.out.write(report.text(outcome, summary_line=False))
            else:
                ctx.ci.out.write(report.FILE_REPORTERS[name](outcome))
            ctx.ci.out.flush()
        else:
            rendered = report.FILE_REPORTERS[name](outcome)
            path = Path(target)
            if path.parent != Path(""):
                path.parent.mkdir(parents=True, exist_ok=True)
            write_redacted(path, rendered)


def run(opts: Options, ctx: Context) -> StepResult:
    formats = _formats(opts, ctx)
    if any(target is None and name not in ("text", "github") for name, target in formats):
        ctx.ci.reserve_stdout()  # a machine format is the only thing on stdout
    if opts.workers < 0:
        raise UsageError(f"--workers {opts.workers}: expected 0 (one per CPU) or more")
    request = Request(
        paths=opts.paths,
        kubernetes_version=opts.kubernetes_version,
        crd_paths=opts.crd,
        skip=frozenset(opts.skip),
        ignore_missing_schemas=opts.ignore_missing_schemas,
        workers=opts.workers,
        env=ctx.env,
        repo_url=opts.repo_url,
        exclude=opts.exclude,
    )
    outcome = validate(request)
    emit(outcome, formats, ctx)
    outputs = {
        "errors": str(outcome.errors),
        "warnings": str(outcome.warnings),
        "resources": str(outcome.resources),
    }
    table = report.summary(outcome)
    if outcome.unusable:
        for name, value in outputs.items():
            ctx.ci.set_output(name, value)
        ctx.ci.write_summary(table)
        ctx.ci.log(outcome.summary_line())
        unusable = [f for f in outcome.findings if f.file in outcome.unusable]
        first = next((f for f in unusable if f.check == "yaml"), unusable[0])
        more = len(outcome.unusable) - 1
        raise InputError(
            first.message + (f" (and {more} more unusable input(s))" if more else ""),
            path=first.file,
            line=first.line,
            column=first.column,
        )
    failed = outcome.errors > 0 or (opts.fail_on_warnings and outcome.warnings > 0)
    return StepResult("failed" if failed else "unchanged", outcome.summary_line(), outputs, table)


STEP = Step(
    name="validate",
    summary="Validate manifests offline against Kubernetes and CRD schemas.",
    examples=(
        "gitops-actions validate clusters/ apps/ --kubernetes-version 1.32",
        "gitops-actions validate . --crd crds/ --format text --format junit=report.xml",
        "gitops-actions validate overlays/prod --skip SealedSecret --format sarif=validate.sarif",
    ),
    options=Options,
    run=run,
    outputs=(
        ("errors", "number of errors found"),
        ("warnings", "number of warnings (deprecated APIs)"),
        ("resources", "number of resources validated"),
    ),
)
