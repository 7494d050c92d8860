"""buildah's layer cache with several platforms: only where the cache looks at the platform."""

from __future__ import annotations

from gitops_actions.builders import buildah


def test_layers_for_several_platforms_only_from_buildah_1_41() -> None:
    assert buildah.layers(0, ()) and buildah.layers(1, (1, 28, 2))
    assert not buildah.layers(2, (1, 28, 2))  # Debian 12: the list would lose a platform
    assert not buildah.layers(2, ())  # no version printed: the safe way
    assert buildah.layers(2, (1, 41, 0)) and buildah.layers(3, (2, 0, 0))
