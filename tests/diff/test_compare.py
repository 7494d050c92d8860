"""Resource comparison: identity, summaries, Secret redaction, noise filters."""

from __future__ import annotations

import base64
import dataclasses
import json
from typing import Any

from gitops_actions.diff import compare

PLAIN = "correct-horse-battery-staple"
ENCODED = base64.b64encode(PLAIN.encode()).decode()


def deployment(image: str, chart: str = "shop-1.0.0", checksum: str = "abc") -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "shop",
            "namespace": "prod",
            "labels": {"app": "shop", "helm.sh/chart": chart},
            "resourceVersion": "123",
        },
        "spec": {
            "template": {
                "metadata": {"annotations": {"checksum/config": checksum}},
                "spec": {
                    "containers": [
                        {"name": "sidecar", "image": "proxy:1"},
                        {"name": "app", "image": image},
                    ]
                },
            }
        },
        "status": {"replicas": 3},
    }


def secret(**data: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "prod"},
        "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()},
    }


def everything(changes: list[compare.Change]) -> str:
    return json.dumps([dataclasses.asdict(c) for c in changes])


def test_image_change_is_summarised_by_container_name() -> None:
    changes = compare.compare(
        [deployment("shop:1.2.3")], [deployment("shop:1.2.4")], compare.Options()
    )
    assert len(changes) == 1
    change = changes[0]
    assert (
        change.action,
        change.group,
        change.version,
        change.kind,
        change.namespace,
        change.name,
    ) == ("changed", "apps", "v1", "Deployment", "prod", "shop")
    assert change.summary == ("spec.template.spec.containers[app].image: shop:1.2.3 -> shop:1.2.4",)
    assert "-      - image: shop:1.2.3\n" in change.diff
    assert "+      - image: shop:1.2.4\n" in change.diff
    assert change.diff.startswith("--- a/Deployment/prod/shop\n+++ b/Deployment/prod/shop\n")
    assert "status" not in change.diff and "resourceVersion" not in change.diff


def test_added_and_removed() -> None:
    changes = compare.compare([secret(a="1")], [deployment("x:1")], compare.Options())
    assert [(c.action, c.kind) for c in changes] == [("removed", "Secret"), ("added", "Deployment")]
    assert changes[1].diff.count("\n+") > 5


def test_secret_values_never_appear() -> None:
    options = compare.Options()
    changes = compare.compare(
        [secret(password=PLAIN, user="admin", old="x")],
        [secret(password=PLAIN + "2", user="admin", new="y")],
        options,
    )
    text = everything(changes)
    for leaked in (PLAIN, ENCODED, PLAIN + "2", base64.b64encode(f"{PLAIN}2".encode()).decode()):
        assert leaked not in text
    assert changes[0].redacted == (
        "data.new: <redacted, added, 1 bytes>",
        "data.old: <redacted, removed>",
        f"data.password: <redacted, changed, {len(PLAIN) + 1} bytes>",
    )
    same = compare.compare([secret(password=PLAIN)], [secret(password=PLAIN)], options)
    assert same == []


def test_sops_and_extra_paths_are_redacted() -> None:
    sops = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c"},
        "data": {"token": "ENC[AES256_GCM,data:abc,iv:x,tag:y,type:str]", "plain": "1"},
        "sops": {"version": "3.8"},
    }
    changed = json.loads(json.dumps(sops))
    changed["data"]["token"] = "ENC[AES256_GCM,data:zzz,iv:x,tag:y,type:str]"
    changed["data"]["apiKey"] = "key-123456"
    changes = compare.compare([sops], [changed], compare.Options(redact=("ConfigMap:data.apiKey",)))
    text = everything(changes)
    assert "data:abc" not in text and "data:zzz" not in text and "key-123456" not in text
    assert "data.token: <redacted, changed" in text


def test_noise_filters_hide_and_count() -> None:
    options = compare.Options()
    changes = compare.compare(
        [deployment("x:1", "shop-1.0.0", "aaa")], [deployment("x:1", "shop-1.1.0", "bbb")], options
    )
    assert changes == []
    assert options.hidden == {"label:helm.sh/chart": 1, "annotation:checksum/*": 1}
    unfiltered = compare.Options(filters=())
    changes = compare.compare(
        [deployment("x:1", "shop-1.0.0", "aaa")],
        [deployment("x:1", "shop-1.1.0", "bbb")],
        unfiltered,
    )
    assert len(changes[0].summary) == 2
