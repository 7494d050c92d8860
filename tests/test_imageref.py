from __future__ import annotations

import pytest

from gitops_actions.errors import UsageError
from gitops_actions.imageref import ImageRef, parse

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "expected", "name"),
    [
        ("nginx", ImageRef("nginx"), "docker.io/library/nginx"),
        ("nginx:1.27", ImageRef("nginx", "1.27"), "docker.io/library/nginx"),
        ("acme/app@" + DIGEST, ImageRef("acme/app", None, DIGEST), "docker.io/acme/app"),
        (
            "ghcr.io/acme/app:1.2.3@" + DIGEST,
            ImageRef("ghcr.io/acme/app", "1.2.3", DIGEST),
            "ghcr.io/acme/app",
        ),
        (
            "127.0.0.1:5000/demo/shop:dev",
            ImageRef("127.0.0.1:5000/demo/shop", "dev"),
            "127.0.0.1:5000/demo/shop",
        ),
        ("localhost/app", ImageRef("localhost/app"), "localhost/app"),
        (
            "index.docker.io/library/redis:7",
            ImageRef("index.docker.io/library/redis", "7"),
            "docker.io/library/redis",
        ),
    ],
)
def test_parse_and_normalise(text: str, expected: ImageRef, name: str) -> None:
    ref = parse(text)
    assert ref == expected
    assert ref.name == name
    assert str(ref) == text


@pytest.mark.parametrize("text", ["", "Upper/Case", "app:bad tag", "app@sha256:123", "app:-x"])
def test_rejects_bad_references(text: str) -> None:
    with pytest.raises(UsageError):
        parse(text)
