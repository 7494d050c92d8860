"""Flux Kustomizations read as the Kustomization rendering them applies them: its patches
aimed at Kustomizations merged in, its variables substituted (a multi-cluster repo where
``cluster-apps`` of each cluster gives its apps ``CLUSTER``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_actions import apps
from gitops_actions.apps import applied
from gitops_actions.apps.objects import Object

CLUSTERS = Path(__file__).parent.parent / "data" / "apps" / "flux-clusters"


def by_name(model: apps.Model) -> dict[str, apps.EntryPoint]:
    return {e.name: e for e in model.entries if e.kind == "flux"}


def test_a_childs_path_and_variables_come_from_its_parent() -> None:
    model = apps.read(CLUSTERS)
    found = by_name(model)
    assert model.notes == ()  # no "spec.path ... is not in the repo"
    for cluster in ("main", "test"):
        config = found[f"kubernetes/apps/{cluster}/web.yaml#web-config"]
        assert config.path == f"kubernetes/apps/{cluster}/web/config"
        web = found[f"kubernetes/apps/{cluster}/web.yaml#web"]
        assert web.build.substitute is not None
        assert web.build.substitute["CLUSTER"] == cluster  # patched in, then substituted
        assert web.build.substitute["APP"] == "web"  # its own, kept beside
    # the labelSelector of a patch picks the apps it changes
    assert found["kubernetes/apps/main/web.yaml#web"].build.substitute == {
        "APP": "web",
        "CLUSTER": "main",
        "SIZE": "large",
    }
    assert "SIZE" not in (found["kubernetes/apps/test/web.yaml#web"].build.substitute or {})


def test_each_cluster_renders_with_its_own_values(tmp_path: Path) -> None:
    model = apps.read(CLUSTERS)
    for cluster, size in (("main", "large"), ("test", "small")):
        [entry] = [e for e in model.entries if e.name == f"kubernetes/apps/{cluster}/web.yaml#web"]
        [configmap] = apps.render(CLUSTERS, entry, tmp_path).resources
        assert configmap["metadata"] == {"name": "web-env", "namespace": "web"}
        assert configmap["data"] == {"cluster": cluster, "size": size}


@pytest.mark.parametrize(
    ("selector", "labels", "selected"),
    [
        ("tier=gold", {"tier": "gold"}, True),
        ("tier==gold", {"tier": "silver"}, False),
        ("tier!=gold,team", {"tier": "silver", "team": "a"}, True),
        ("tier!=gold,team", {"tier": "silver"}, False),
        ("tier in (gold)", {"tier": "gold"}, False),  # set-based: not read, nothing picked
    ],
)
def test_label_selectors_of_patch_targets(
    selector: str, labels: dict[str, str], selected: bool
) -> None:
    value = {"kind": "Kustomization", "metadata": {"name": "web", "labels": labels}}
    assert applied._selected({"labelSelector": selector}, value) is selected


def test_a_patch_merges_maps_replaces_lists_and_keeps_the_name() -> None:
    parent = applied.Parent(
        frozenset({"apps"}),
        (
            (
                {"kind": "Kustomization"},
                {
                    "metadata": {"name": "placeholder", "labels": {"team": "a"}},
                    "spec": {
                        "postBuild": {"substitute": {"B": "${ENV}"}},
                        "dependsOn": [{"name": "crds"}],
                        "prune": None,
                        "patches": [{"patch": "left out"}],
                    },
                },
            ),
        ),
        {"ENV": "prod"},
    )
    child = Object(
        "apps/web.yaml",
        {
            "kind": "Kustomization",
            "metadata": {"name": "web"},
            "spec": {
                "prune": True,
                "dependsOn": [{"name": "db"}],
                "postBuild": {"substitute": {"A": "a"}},
                "patches": [{"patch": "own"}],
            },
        },
    )
    assert parent.renders("apps/web.yaml") and not parent.renders("other/web.yaml")
    assert parent.apply(child).value == {
        "kind": "Kustomization",
        "metadata": {"name": "web", "labels": {"team": "a"}},
        "spec": {
            "dependsOn": [{"name": "crds"}],
            "postBuild": {"substitute": {"A": "a", "B": "prod"}},
            "patches": [{"patch": "own"}],
        },
    }
