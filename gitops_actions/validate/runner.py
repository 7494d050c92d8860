"""One validation run: find inputs, render, check every source (in worker processes when
there are many), then the checks across the set. Every finding is collected before any
is reported, so one bad file never hides the others."""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from gitops_actions.errors import GitopsError, UsageError
from gitops_actions.paths import walk
from gitops_actions.secrets import REDACTOR
from gitops_actions.validate import checks, crds, engine, entries, operator, positions, schemas
from gitops_actions.validate.findings import (
    DUPLICATE_RESOURCE,
    MISSING_SCHEMA,
    RENDER,
    Finding,
    Outcome,
    Skipped,
    capped,
)
from gitops_actions.validate.inputs import EXTENSIONS, discover
from gitops_actions.yamlread import loader

POOL_THRESHOLD = 64  # fewer sources than this are checked in-process: forking costs more
FILES_UNIT = "files"


@dataclass(frozen=True)
class Request:
    paths: tuple[str, ...]
    kubernetes_version: str = schemas.DEFAULT_VERSION
    crd_paths: tuple[str, ...] = ()
    skip: frozenset[str] = frozenset()
    ignore_missing_schemas: bool = False
    workers: int = 0  # 0: one per CPU
    env: Mapping[str, str] | None = None
    repo_url: str = ""  # which URL is this repo, for Argo CD and Flux sources
    exclude: tuple[str, ...] = ()  # globs of paths not to validate


def validate(request: Request) -> Outcome:
    started = time.perf_counter()
    version = schemas.parse_version(request.kubernetes_version)
    custom = tuple(load_crds(request.crd_paths))
    settings = engine.Settings(version, request.skip, custom)
    found = discover(request.paths)
    planned = entries.plan(request.paths, found, repo_url=request.repo_url, exclude=request.exclude)
    sources = [  # plain files in one folder are one set (one app, applied together)
        engine.Source(path, f"{FILES_UNIT} {os.path.dirname(path)}", json=path.endswith(".json"))
        for path in planned.files
    ]
    findings: list[Finding] = []
    skipped: list[Skipped] = list(planned.skipped)
    unusable: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gitops-validate-") as scratch:
        for entry in planned.entries:
            if entry.kind == "plain" or entries.directory(entry):
                sources += [
                    engine.Source(
                        f,
                        entries.unit(entry),
                        json=f.endswith(".json"),
                        origin=entries.label(entry),
                        namespace=entry.build.default_namespace,  # as Argo CD applies it
                    )
                    for f in entries.plain_sources(planned.root, entry)
                ]
        rendered = entries.render_all(
            planned.root, planned.entries, Path(scratch), request.env, _workers(request.workers)
        )
        traces: dict[tuple[str, str], entries.Traced] = {}
        for item in rendered:
            shown = entries.shown_file(planned.root, item.entry)
            label = entries.label(item.entry)
            if item.text is not None:
                sources.append(
                    engine.Source(shown, entries.unit(item.entry), text=item.text, origin=label)
                )
                traces[(shown, label)] = entries.Traced(item, shown, label)
            if item.error:
                unusable.append(shown)
                findings.append(Finding(shown, 1, 1, RENDER, item.error, origin=label))
            if item.skipped:  # all of it, or a part (a chart from elsewhere)
                skipped.append(Skipped(entries.shown_entry(planned.root, item.entry), item.skipped))
        rendered_at = time.perf_counter()

        schemas.preload(version)  # shared with forked workers
        checked = _check_all(sources, settings, request.workers)
        settings = _with_input_crds(sources, checked, settings)
        checked_at = time.perf_counter()

        catalog = schemas.Catalog(version, settings.custom)
        missing: Counter[tuple[str, str]] = Counter()
        for index, result in sorted(checked.details.items()):
            REDACTOR.learn_values(result.secrets)
            source = sources[index]
            findings.extend(result.findings)
            if result.unusable:
                unusable.append(source.file)
            for unknown in result.unknown:
                r = unknown.resource
                if request.ignore_missing_schemas:
                    missing[(r.api_version, r.kind)] += 1
                    continue
                findings.append(_missing_schema(source, unknown, catalog, version))
        for (api_version, kind), count in sorted(missing.items()):
            skipped.append(
                Skipped(f"{api_version}/{kind}", f"no schema; {count} resource(s) not validated")
            )
        findings.extend(_place_duplicates(checks.duplicates(checked.seen), sources))
        findings = entries.unresolved_dropped(findings, traces)
        findings = entries.traced(
            findings,
            traces,
            request.env,
            planned.root.resolve(),
            Path(scratch),
            _workers(request.workers),
        )
    findings = entries.once(findings)
    findings.sort(key=lambda f: (f.file, f.line, f.column, f.check, f.message))
    findings, omitted = capped(findings)
    done = time.perf_counter()
    coverage = entries.coverage(planned, rendered, len(checked.seen))
    return Outcome(
        tuple(findings),
        tuple(skipped),
        files=len(sources),
        resources=len(checked.seen),
        sources=tuple(dict.fromkeys(source.file for source in sources)),
        kubernetes_version=version,
        unusable=tuple(dict.fromkeys(unusable)),
        stats={
            "render_seconds": rendered_at - started,
            "check_seconds": checked_at - rendered_at,
            "total_seconds": done - started,
        },
        coverage=coverage,
        omitted=omitted,
    )


def load_crds(paths: Sequence[str]) -> Iterable[crds.CustomKind]:
    """Custom kinds from the CRDs in ``--crd`` files and directories."""
    for text in paths:
        path = Path(text)
        if path.is_dir():
            files = sorted(
                Path(folder) / name
                for folder, _, names in walk(path)  # no symlinks
                for name in names
                if name.endswith(EXTENSIONS)
            )
        elif path.is_file():
            files = [path]
        else:
            raise UsageError(f"--crd {text}: no such file or directory")
        for file in files:
            source = engine.Source(str(file), FILES_UNIT, json=file.suffix == ".json")
            try:
                content = engine.read(source)
                docs = loader.json_documents(content) if source.json else loader.documents(content)
                for doc in docs:
                    if crds.is_crd(doc.value):
                        yield from crds.kinds_of(doc.value, f"{file}:{doc.line}")
            except loader.LoadError as err:
                raise UsageError(f"--crd {file}:{err.line}: {err.message}") from None
            except OSError as err:
                raise UsageError(f"--crd {file}: {err.strerror or err}") from None


def _workers(requested: int) -> int:
    return requested if requested > 0 else max(1, os.cpu_count() or 1)


# -- checking sources ------------------------------------------------------------------------
@dataclass
class Checked:
    """What checking sources yielded: every resource seen (so also their count), and
    details only for sources with something to report, so what workers send stays small."""

    seen: list[checks.Seen] = field(default_factory=list)
    details: dict[int, engine.Result] = field(default_factory=dict)  # by source index

    def merge(self, other: Checked) -> None:
        self.seen.extend(other.seen)
        self.details.update(other.details)


_STATE: tuple[schemas.Catalog, engine.Settings] | None = None


def _init(settings: engine.Settings) -> None:
    global _STATE
    _STATE = (schemas.Catalog(settings.version, settings.custom), settings)


def _check_batch(batch: list[tuple[int, engine.Source]]) -> Checked:
    assert _STATE is not None
    catalog, settings = _STATE
    checked = Checked()
    for index, source in batch:
        result = engine.check_source(source, catalog, settings)
        checked.seen.extend(result.seen)
        if (
            result.findings
            or result.unknown
            or result.custom
            or result.unusable
            or result.secrets
            or result.installs_flux
        ):
            result.seen = []
            checked.details[index] = result
    return checked


def _check_all(sources: list[engine.Source], settings: engine.Settings, workers: int) -> Checked:
    numbered = list(enumerate(sources))
    count = min(_workers(workers), max(1, len(sources) // POOL_THRESHOLD))
    if count <= 1:
        _init(settings)
        return _check_batch(numbered)
    size = max(8, min(128, len(sources) // (count * 8) or 1))
    batches = [numbered[i : i + size] for i in range(0, len(numbered), size)]
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else "spawn")
    gc.freeze()  # forked workers neither scan nor copy what the parent has built so far
    try:
        with ProcessPoolExecutor(
            count, mp_context=context, initializer=_init, initargs=(settings,)
        ) as pool:
            checked = Checked()
            for part in pool.map(_check_batch, batches):
                checked.merge(part)
            return checked
    except BrokenProcessPool:
        raise GitopsError(
            "a validation worker process died (out of memory, or killed)",
            hint="rerun with --workers 1 to see which file it was reading",
        ) from None
    finally:
        gc.unfreeze()


def _with_input_crds(
    sources: list[engine.Source], checked: Checked, settings: engine.Settings
) -> engine.Settings:
    """Check again, in-process, the sources holding kinds that CRDs in the input define
    (and Alerts and Receivers when a FluxInstance, or the flux-instance chart, installs
    Flux)."""
    found = [kind for result in checked.details.values() for kind in result.custom]
    if operator.installs_flux(checked.seen) or any(
        result.installs_flux for result in checked.details.values()
    ):
        found += operator.notification_kinds()
    if not found:
        return settings
    keys = {kind.key for kind in found}
    settings = dataclasses.replace(settings, custom=(*settings.custom, *found))
    _init(settings)
    files = {s.file for s in checked.seen if (s.resource.api_version, s.resource.kind) in keys}
    again = [(i, source) for i, source in enumerate(sources) if source.file in files]
    checked.seen = [s for s in checked.seen if s.file not in files]
    for index, _ in again:
        checked.details.pop(index, None)
    checked.merge(_check_batch(again))
    return settings


def _missing_schema(
    source: engine.Source, unknown: engine.Unknown, catalog: schemas.Catalog, version: str
) -> Finding:
    r = unknown.resource
    catalog.knows(r.api_version, r.kind)  # loads a bundled CRD of the same group, if any
    apis = [api for api, kind in (*catalog.index, *catalog.custom) if kind == r.kind]
    known = sorted({api for api in apis if api != r.api_version})
    if known:
        hint = f"; known apiVersions for {r.kind}: {', '.join(known)}"
    else:
        hint = (
            "; pass its CustomResourceDefinition with --crd, or use --skip "
            f"{r.kind} or --ignore-missing-schemas"
        )
    return Finding(
        source.file,
        unknown.line,
        unknown.column,
        MISSING_SCHEMA,
        f"no schema for {r.api_version} {r.kind}{hint}",
        document=unknown.document,
        resource=r,
        origin=source.origin,
    )


def _place_duplicates(found: list[Finding], sources: list[engine.Source]) -> list[Finding]:
    """Point each duplicate at its ``metadata.name`` (composing that document again)."""
    texts = {s.file: s for s in sources}
    placed = []
    for finding in found:
        source = texts.get(finding.file)
        node = None
        if source is not None and finding.check == DUPLICATE_RESOURCE:
            try:
                node = loader.compose_document(engine.read(source), finding.document)
            except (OSError, loader.LoadError):
                node = None
        if node is not None:
            line, column = positions.locate(node, finding.parts)
            finding = dataclasses.replace(finding, line=line, column=column)
        placed.append(finding)
    return placed
