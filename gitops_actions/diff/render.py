"""Render many entry points at once: in worker processes, since in-process kustomize
builds are Python and threads would take turns on the interpreter lock.

Workers are forked, so they share what the parent already read; each result (plain
resource dictionaries) travels back pickled. An error raised in a worker comes back as
the same one-line error, with its file and line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from gitops_actions import apps
from gitops_actions.apps import EntryPoint
from gitops_actions.errors import GitopsError, InputError

POOL_THRESHOLD = 16  # fewer renders than this run in this process: forking costs more
CHUNK = 8  # renders handed to a worker at a time


@dataclass(frozen=True)
class Job:
    root: Path  # the tree the entry point is rendered from
    entry: EntryPoint
    scratch: Path


@dataclass(frozen=True)
class _Failed:
    message: str
    path: str | None
    line: int | None
    column: int | None


def render_all(jobs: Sequence[Job], workers: int) -> list[apps.Rendered]:
    """Each job rendered, in order; ``workers`` processes when there are enough jobs."""
    if workers <= 1 or len(jobs) < POOL_THRESHOLD:
        return [apps.render(j.root, j.entry, j.scratch, text=False) for j in jobs]
    import multiprocessing  # here: importing it costs a run of one change ~20 ms
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        results = list(pool.map(_render, jobs, chunksize=CHUNK))
    done: list[apps.Rendered] = []
    for result in results:
        if isinstance(result, _Failed):
            raise InputError(
                result.message, path=result.path, line=result.line, column=result.column
            )
        done.append(result)
    return done


def _render(job: Job) -> apps.Rendered | _Failed:
    try:
        return apps.render(job.root, job.entry, job.scratch, text=False)
    except InputError as err:
        return _Failed(err.message, err.path, err.line, err.column)
    except GitopsError as err:
        return _Failed(err.one_line(), None, None, None)
