"""OCI labels from GitHub's event payload, GitLab's variables, or the git checkout."""

from __future__ import annotations

import json
from pathlib import Path

from gitops_actions import git
from gitops_actions.builders import labels

SHA = "90dd6032fac8bda1b6c4436a2e65de27961ed071"
P = labels.PREFIX


def test_github_like_metadata_action(tmp_path: Path) -> None:
    """metadata-action's README example: octocat/Hello-World at refs/tags/v1.2.3."""
    event = tmp_path / "event.json"
    event.write_text(
        json.dumps(
            {
                "repository": {
                    "name": "Hello-World",
                    "description": "This your first repo!",
                    "html_url": "https://github.com/octocat/Hello-World",
                    "license": {"spdx_id": "MIT"},
                }
            }
        )
    )
    env = {
        "GITHUB_REPOSITORY": "octocat/Hello-World",
        "GITHUB_SHA": SHA,
        "GITHUB_EVENT_PATH": str(event),
        "SOURCE_DATE_EPOCH": "1578616200",
    }
    assert labels.oci(env, tmp_path, "1.2.3") == {
        P + "title": "Hello-World",
        P + "description": "This your first repo!",
        P + "url": "https://github.com/octocat/Hello-World",
        P + "source": "https://github.com/octocat/Hello-World",
        P + "version": "1.2.3",
        P + "created": "2020-01-10T00:30:00Z",
        P + "revision": SHA,
        P + "licenses": "MIT",
    }


def test_gitlab_variables_and_license_file(tmp_path: Path) -> None:
    (tmp_path / "LICENSE").write_text(
        "\n                                 Apache License\n"
        "                           Version 2.0, January 2004\n"
    )
    env = {
        "CI_PROJECT_URL": "https://gitlab.example.com/acme/shop",
        "CI_PROJECT_TITLE": "Shop",
        "CI_PROJECT_DESCRIPTION": "The shop",
        "CI_COMMIT_SHA": SHA,
    }
    found = labels.oci(env, tmp_path, "main")
    assert found[P + "title"] == "Shop" and found[P + "description"] == "The shop"
    assert found[P + "source"] == found[P + "url"] == "https://gitlab.example.com/acme/shop"
    assert found[P + "revision"] == SHA and found[P + "version"] == "main"
    assert found[P + "licenses"] == "Apache-2.0"
    assert found[P + "created"].endswith("Z")


def test_git_checkout_in_a_terminal(tmp_path: Path) -> None:
    repo = git.init(tmp_path / "shop")
    (repo.path / "LICENSE").write_text("MIT License\n\nCopyright (c) acme\n")
    repo.add()
    sha = repo.commit("initial")
    repo.git("remote", "add", "origin", "git@git.example.com:acme/shop.git")
    (repo.path / "app").mkdir()
    found = labels.oci({}, repo.path / "app", "sha-1234567")
    assert found[P + "source"] == "https://git.example.com/acme/shop"
    assert found[P + "title"] == "shop" and found[P + "revision"] == sha
    assert found[P + "licenses"] == "MIT"
    assert P + "description" not in found


def test_user_values_win_and_empty_removes() -> None:
    defaults = {P + "title": "shop", P + "licenses": "MIT"}
    assert labels.merged(defaults, {P + "title": "Shop", P + "licenses": "", "team": "a"}) == {
        P + "title": "Shop",
        "team": "a",
    }
