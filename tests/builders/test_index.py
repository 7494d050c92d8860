"""The index over platforms built one by one: its type, its entries, what a failure leaves."""

from __future__ import annotations

import json

import pytest

from gitops_actions.builders import index
from gitops_actions.errors import ExternalError

AMD64 = index.PlatformImage("linux/amd64", "sha256:" + "a" * 64, "linux", "amd64")
ARM = index.PlatformImage("linux/arm/v7", "sha256:" + "b" * 64, "linux", "arm", "v7")


def child(image: index.PlatformImage, media_type: str, n: str) -> index.Child:
    return index.Child(image, media_type, "sha256:" + n * 64, 500 + len(n))


def test_docker_manifests_make_a_docker_list_in_the_order_built() -> None:
    children = [child(AMD64, index.DOCKER_MANIFEST, "1"), child(ARM, index.DOCKER_MANIFEST, "2")]
    media_type, body = index.render(children)
    assert media_type == index.DOCKER_LIST
    loaded = json.loads(body)
    assert loaded["schemaVersion"] == 2 and loaded["mediaType"] == index.DOCKER_LIST
    assert loaded["manifests"] == [
        {
            "mediaType": index.DOCKER_MANIFEST,
            "size": 501,
            "digest": "sha256:" + "1" * 64,
            "platform": {"architecture": "amd64", "os": "linux"},
        },
        {
            "mediaType": index.DOCKER_MANIFEST,
            "size": 501,
            "digest": "sha256:" + "2" * 64,
            "platform": {"architecture": "arm", "os": "linux", "variant": "v7"},
        },
    ]
    assert index.digest_of(body) == index.digest_of(index.render(children)[1])  # stable


def test_oci_manifests_make_an_oci_index() -> None:
    media_type, body = index.render([child(AMD64, index.OCI_MANIFEST, "1")])
    assert media_type == index.OCI_INDEX == json.loads(body)["mediaType"]
    with pytest.raises(ExternalError, match="cannot index manifests of type"):
        index.render([child(AMD64, index.DOCKER_LIST, "1")])


def test_the_built_platform_must_be_the_one_asked_for() -> None:
    assert index.platform_image("linux/arm64", "id", "linux/arm64/") == index.PlatformImage(
        "linux/arm64", "id", "linux", "arm64"
    )
    assert index.platform_image("linux/arm64", "id", "linux/arm64/v8") is not None
    assert index.platform_image("linux/arm/v7", "id", "linux/arm/v7") == index.PlatformImage(
        "linux/arm/v7", "id", "linux", "arm", "v7"
    )
    assert index.platform_image("linux/arm64", "id", "linux/amd64/") is None
    assert index.platform_image("linux/arm/v7", "id", "linux/arm/v6") is None


def test_a_failure_says_what_each_tag_holds() -> None:
    refs = ["r:a", "r:b", "r:c"]
    assert index.left(refs, "", []) == "no tag was changed"
    held = "the linux/arm64 image alone (sha256:222222222222)"
    assert index.left(refs, held, []) == (
        "no index was pushed: r:a holds the linux/arm64 image alone (sha256:222222222222); "
        "r:b, r:c unchanged"
    )
    assert index.left(refs[:1], held, []).endswith("(sha256:222222222222)")
    assert index.left(refs, "", ["r:a"]) == "the index is on r:a; not on r:b, r:c"
