"""The diff of rendered resources between two refs, as ``diff --format json`` writes it.

One JSON document, version 1::

    {"version": 1, "target": "config",
     "base": {"ref": "main", "sha": "..."}, "head": {"ref": "feature", "sha": "..."},
     "rendered": ["apps/shop/overlays/prod"],
     "filters": {"helm.sh/chart label": 3},
     "apps": [{"name": "apps/shop/overlays/prod", "changes": [
         {"action": "changed", "group": "apps", "version": "v1", "kind": "Deployment",
          "namespace": "shop", "name": "shop",
          "summary": ["spec.template.spec.containers[shop].image: 1.2.3 -> 1.2.4"],
          "diff": "--- a/...\\n+++ b/...\\n@@ ...", "redacted": []}]}],
     "full_artifact": null}

``target`` names what was diffed (it keys the sticky comment). ``group`` is empty for the
core API group and ``namespace`` for cluster-scoped resources. ``diff`` is a unified diff
of the normalised YAML with secret values already replaced; ``redacted`` says, one line
per field, what changed in a secret without showing it. ``filters`` counts the changes
each noise filter hid. Readers reject any other version.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

from gitops_actions.errors import InputError

VERSION = 1
_SHA = re.compile(r"[0-9a-fA-F]{4,64}")
Action = Literal["added", "removed", "changed"]
ACTIONS: tuple[Action, ...] = ("added", "changed", "removed")


@dataclass(frozen=True)
class Ref:
    ref: str
    sha: str


@dataclass(frozen=True)
class Change:
    """One resource that was added, removed or changed between the two refs."""

    action: Action
    group: str
    version: str
    kind: str
    namespace: str
    name: str
    summary: tuple[str, ...] = ()
    diff: str = ""
    redacted: tuple[str, ...] = ()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def id(self) -> str:
        """``Deployment shop/web``, or ``ClusterRole web`` when cluster-scoped."""
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}"


@dataclass(frozen=True)
class App:
    name: str
    changes: tuple[Change, ...] = ()
    note: str = ""  # why it was not (wholly) rendered: a chart without helm
    path: str = ""  # the folder it renders, in the repo


@dataclass(frozen=True)
class Diff:
    target: str
    base: Ref
    head: Ref
    apps: tuple[App, ...] = ()
    rendered: tuple[str, ...] = ()
    filters: tuple[tuple[str, int], ...] = ()  # (filter, changes it hid), in file order
    full_artifact: str | None = None
    version: int = VERSION

    @property
    def changes(self) -> int:
        return sum(len(app.changes) for app in self.apps)

    @property
    def hidden(self) -> int:
        return sum(count for _, count in self.filters)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "target": self.target,
            "base": {"ref": self.base.ref, "sha": self.base.sha},
            "head": {"ref": self.head.ref, "sha": self.head.sha},
            "rendered": list(self.rendered),
            "filters": dict(self.filters),
            "apps": [_app_dict(app) for app in self.apps],
            "full_artifact": self.full_artifact,
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, path: str | None = None) -> Diff:
        return _Reader(path).diff(data)

    @classmethod
    def from_json(cls, text: str, *, path: str | None = None) -> Diff:
        try:
            data = json.loads(text)
        except ValueError as err:
            raise InputError(f"not JSON: {err}", path=path) from None
        except RecursionError:
            raise InputError("not a diff document: nested too deeply", path=path) from None
        return cls.from_dict(data, path=path)


def _app_dict(app: App) -> dict[str, Any]:
    found: dict[str, Any] = {"name": app.name, "changes": [_change_dict(c) for c in app.changes]}
    if app.note:
        found["note"] = app.note
    if app.path:
        found["path"] = app.path
    return found


def _change_dict(change: Change) -> dict[str, Any]:
    return {
        "action": change.action,
        "group": change.group,
        "version": change.version,
        "kind": change.kind,
        "namespace": change.namespace,
        "name": change.name,
        "summary": list(change.summary),
        "diff": change.diff,
        "redacted": list(change.redacted),
    }


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value


class _Reader:
    """Checks the shape of a diff document, naming the first field that is wrong."""

    def __init__(self, path: str | None) -> None:
        self.path = path

    def fail(self, where: str, expected: str) -> InputError:
        return InputError(
            f"diff document: {where}: expected {expected}",
            path=self.path,
            hint="give the JSON that `gitops-actions diff --format json` writes",
        )

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "an object")
        return value

    def text(self, data: Mapping[str, Any], key: str, where: str, *, empty: bool = True) -> str:
        value = data.get(key)
        if value is None and empty:
            return ""
        if not isinstance(value, str) or not (value or empty):
            raise self.fail(f"{where}.{key}", "a string" if empty else "a non-empty string")
        return self.unicode(value, f"{where}.{key}")

    def unicode(self, value: str, where: str) -> str:
        """``value``, refused when it holds a lone surrogate (``"\\ud800"``): no text."""
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise self.fail(where, "text (it holds a lone surrogate)") from None
        return value

    def texts(self, data: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = _or(data.get(key), [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.fail(f"{where}.{key}", "a list of strings")
        return tuple(self.unicode(v, f"{where}.{key}") for v in value)

    def ref(self, data: Mapping[str, Any], key: str) -> Ref:
        found = self.mapping(_or(data.get(key), {}), key)
        sha = self.text(found, "sha", key)
        if sha and not _SHA.fullmatch(sha):
            raise self.fail(f"{key}.sha", f"a commit id (hex), got {sha[:80]!r}")
        return Ref(self.text(found, "ref", key), sha)

    def diff(self, data: Any) -> Diff:
        top = self.mapping(data, "document")
        version = top.get("version")
        if type(version) is not int or version != VERSION:  # True == 1 in Python
            scalar = version is None or isinstance(version, int | float | str)
            shown = repr(version)[:40] if scalar else f"a JSON {type(version).__name__}"
            raise self.fail("version", f"{VERSION}, got {shown}")
        filters = self.mapping(_or(top.get("filters"), {}), "filters")
        for name, count in filters.items():
            if not isinstance(count, int) or isinstance(count, bool) or count < 0:
                raise self.fail(f"filters.{name}", "a count")
            self.unicode(name, "filters")
        apps = _or(top.get("apps"), [])
        if not isinstance(apps, list):
            raise self.fail("apps", "a list")
        artifact = top.get("full_artifact")
        if artifact is not None and not isinstance(artifact, str):
            raise self.fail("full_artifact", "a string or null")
        return Diff(
            target=self.text(top, "target", "document") or "default",
            base=self.ref(top, "base"),
            head=self.ref(top, "head"),
            apps=tuple(self.app(app, f"apps[{i}]") for i, app in enumerate(apps)),
            rendered=self.texts(top, "rendered", "document"),
            filters=tuple(filters.items()),
            full_artifact=artifact or None,
        )

    def app(self, value: Any, where: str) -> App:
        data = self.mapping(value, where)
        changes = _or(data.get("changes"), [])
        if not isinstance(changes, list):
            raise self.fail(f"{where}.changes", "a list")
        return App(
            name=self.text(data, "name", where, empty=False),
            changes=tuple(self.change(c, f"{where}.changes[{i}]") for i, c in enumerate(changes)),
            note=self.text(data, "note", where),
            path=self.text(data, "path", where),
        )

    def change(self, value: Any, where: str) -> Change:
        data = self.mapping(value, where)
        action = data.get("action")
        if action not in ACTIONS:
            raise self.fail(f"{where}.action", " or ".join(ACTIONS))
        return Change(
            action=cast(Action, action),
            group=self.text(data, "group", where),
            version=self.text(data, "version", where, empty=False),
            kind=self.text(data, "kind", where, empty=False),
            namespace=self.text(data, "namespace", where),
            name=self.text(data, "name", where, empty=False),
            summary=self.texts(data, "summary", where),
            diff=self.text(data, "diff", where),
            redacted=self.texts(data, "redacted", where),
        )
