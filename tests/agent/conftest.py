"""Fixtures the agent tests share."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from fakes.kube_api import KubeApi


@pytest.fixture
def kube() -> Iterator[KubeApi]:
    """A loopback Kubernetes API server with a token of its own."""
    with KubeApi("kube_" + secrets.token_hex(16)) as api:
        yield api
