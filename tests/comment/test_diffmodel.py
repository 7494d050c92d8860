"""The diff document: what ``diff --format json`` writes and ``comment`` reads."""

from __future__ import annotations

import json
from typing import Any

import pytest
from test_render_golden import DATA, large_diff

from gitops_actions.diffmodel import App, Change, Diff, Ref
from gitops_actions.errors import InputError


@pytest.mark.parametrize("case", ["no-change", "image-bump", "added-removed", "secret", "filtered"])
def test_documents_round_trip(case: str) -> None:
    text = (DATA / case / "input.json").read_text()
    diff = Diff.from_json(text)

    assert Diff.from_json(diff.to_json()) == diff
    assert diff.to_dict() == json.loads(text)


def test_generated_document_round_trips() -> None:
    diff = large_diff()
    assert Diff.from_json(diff.to_json()) == diff


def test_reading_fills_what_may_be_left_out() -> None:
    diff = Diff.from_dict(
        {
            "version": 1,
            "apps": [
                {
                    "name": "apps/x",
                    "changes": [
                        {
                            "action": "added",
                            "version": "v1",
                            "kind": "Namespace",
                            "name": "x",
                            "namespace": None,
                        }
                    ],
                }
            ],
            "full_artifact": "",
            "skipped": ["ignored: a field this reader does not know"],
        }
    )

    assert diff.target == "default" and diff.base == Ref("", "") and diff.full_artifact is None
    [change] = diff.apps[0].changes
    assert change == Change("added", "", "v1", "Namespace", "", "x")
    assert (change.api_version, change.id) == ("v1", "Namespace x")
    assert Change("changed", "apps", "v1", "Deployment", "shop", "web").id == "Deployment shop/web"


def test_counts() -> None:
    change = Change("added", "", "v1", "ConfigMap", "a", "b")
    diff = Diff(
        "t",
        Ref("", ""),
        Ref("", ""),
        (App("a", (change, change)), App("b", (change,))),
        filters=(("x", 2), ("y", 3)),
    )
    assert (diff.changes, diff.hidden) == (3, 5)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ([], "document: expected an object"),
        ({"version": 2}, "version: expected 1, got 2"),
        ({"version": True}, "version: expected 1, got True"),
        ({"version": 1.0}, "version: expected 1, got 1.0"),
        ({"version": [1]}, "version: expected 1, got a JSON list"),
        ({"version": 1, "head": {"sha": "-->\n<!-- x -->"}}, "head.sha: expected a commit id"),
        ({"version": 1, "apps": {}}, "apps: expected a list"),
        ({"version": 1, "filters": {"x": "3"}}, "filters.x: expected a count"),
        ({"version": 1, "base": {"sha": 7}}, "base.sha: expected a string"),
        ({"version": 1, "rendered": "apps/x"}, "document.rendered: expected a list of strings"),
        ({"version": 1, "apps": [{"changes": []}]}, "apps[0].name: expected a non-empty string"),
        (
            {"version": 1, "apps": [{"name": "a", "changes": [{"action": "moved"}]}]},
            "apps[0].changes[0].action: expected added or changed or removed",
        ),
    ],
)
def test_bad_documents_name_the_field(document: Any, where: str) -> None:
    with pytest.raises(InputError) as caught:
        Diff.from_dict(document, path="diff.json")
    assert caught.value.one_line().startswith(f"diff.json: diff document: {where}")


def test_a_document_nested_too_deeply_is_an_input_error() -> None:
    with pytest.raises(InputError) as caught:
        Diff.from_json("[" * 100_000 + "]" * 100_000, path="diff.json")
    assert caught.value.one_line() == "diff.json: not a diff document: nested too deeply"


def test_not_json_is_an_input_error() -> None:
    with pytest.raises(InputError, match="not JSON"):
        Diff.from_json("{", path="diff.json")
