"""The Kubernetes API helpers the agents share."""

from __future__ import annotations

import threading
import time

from gitops_actions.agent.kube import Caches


def test_a_pause_ends_as_soon_as_a_watched_object_changes() -> None:
    caches = Caches(api=None)
    threading.Timer(0.05, caches.news.set).start()
    start = time.monotonic()
    caches.pause(30)
    assert time.monotonic() - start < 10  # woken by the change, not the 30 s
    assert not caches.news.is_set()  # taken: the next pause waits again
    start = time.monotonic()
    caches.pause(0.2)
    assert time.monotonic() - start >= 0.2
