"""The registry of steps. The CLI, ``action.yml`` and the GitLab components derive from it.

Each entry names its module; a step's module (and the engine behind it) is imported only
when that step is asked for, so running one step never pays for loading the others.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass

from gitops_actions.step import Step


@dataclass(frozen=True)
class Entry:
    name: str
    summary: str
    module: str

    def load(self) -> Step:
        step: Step = importlib.import_module(f"gitops_actions.steps.{self.module}").STEP
        return step


ENTRIES: tuple[Entry, ...] = (
    Entry("build", "Build a container image, push it, and output its tag and digest.", "build"),
    Entry(
        "bump",
        "Write a new image reference (tag and digest) into the config repo and commit it.",
        "bump",
    ),
    Entry(
        "promote",
        "Copy the exact image (tag and digest) deployed in one environment to another.",
        "promote",
    ),
    Entry(
        "rollback",
        "Revert a bump commit in the config repo through the same safe writer.",
        "rollback",
    ),
    Entry("validate", "Validate manifests offline against Kubernetes and CRD schemas.", "validate"),
    Entry("diff", "Render the config repo at two refs and diff the resulting resources.", "diff"),
    Entry("comment", "Post a diff or any markdown as one sticky comment on a PR or MR.", "comment"),
    Entry(
        "handoff",
        "Hand off to Argo CD or Flux and wait until the new revision is applied.",
        "handoff",
    ),
    Entry("serve", "Run the PR-comment bot as a small web service.", "serve"),
    Entry("demo", "Run the whole pipeline on bundled example repos with local stand-ins.", "demo"),
)


class Registry(MutableMapping[str, Step]):
    """Steps by name, in order, each loaded on first use."""

    def __init__(self, entries: tuple[Entry, ...]) -> None:
        self.entries = {entry.name: entry for entry in entries}
        self._loaded: dict[str, Step] = {}

    def __getitem__(self, name: str) -> Step:
        if name not in self._loaded:
            self._loaded[name] = self.entries[name].load()
        return self._loaded[name]

    def __setitem__(self, name: str, step: Step) -> None:
        self._loaded[name] = step

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.entries)

    def __len__(self) -> int:
        return len(self.entries)


STEPS = Registry(ENTRIES)
