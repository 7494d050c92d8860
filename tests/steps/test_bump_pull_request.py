"""``bump --pull-request`` end to end: the CLI as a subprocess, a real git remote, each forge.

The review branch is ``gitops/main/<image short name>``, rebuilt as exactly one commit on
main's tip; its pull (merge) request is opened once and updated in place afterwards.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops_actions import git
from gitops_actions.errors import EXIT_EXTERNAL, EXIT_FINDINGS
from gitops_actions.sandbox import GitHttpServer

from fakes.github_api import GitHubApi
from fakes.gitlab_api import GitLabApi
from support import GITHUB_PROJECT, base_env, config_remote, run_cli, show

pytestmark = pytest.mark.component

IMAGE = "ghcr.io/acme/shop"
FILE = "apps/shop/deploy.yaml"
BRANCH = "gitops/main/shop"
FILES = {FILE: f"image: {IMAGE}:1.0.0\n", "README.md": "config\n"}


# -- helpers ---------------------------------------------------------------------------------
def rev(remote: Path, ref: str) -> str | None:
    """The commit ``ref`` names in ``remote``, or None when there is no such ref."""
    proc = subprocess.run(
        ["git", "-C", str(remote), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or None


def commits_on_top(remote: Path, base: str, head: str) -> list[str]:
    return git.Repo(remote).git("rev-list", f"{base}..{head}").stdout.split()


def assert_one_commit_on_main(remote: Path) -> str:
    """The review branch is exactly one commit whose parent is main's tip; that commit."""
    tip = rev(remote, f"refs/heads/{BRANCH}")
    assert tip is not None, f"{BRANCH} was not pushed"
    assert commits_on_top(remote, "main", BRANCH) == [tip]
    assert rev(remote, f"{tip}^") == rev(remote, "main")
    return tip


def outputs(text: str) -> dict[str, str]:
    """Single-line outputs as the terminal dialect prints them: ``output NAME=VALUE``."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("output ") and "=" in line:
            name, _, value = line.removeprefix("output ").partition("=")
            found[name] = value
    return found


def github_outputs(path: Path) -> dict[str, str]:
    """Single-line records of a ``$GITHUB_OUTPUT`` file; the last one of a name wins."""
    found: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        name, sep, value = line.partition("=")
        if sep and "<<" not in name:
            found[name] = value
    return found


def local_pulls(forge_dir: Path) -> list[dict[str, Any]]:
    pulls = forge_dir / "pulls"
    paths = sorted(pulls.glob("*.json"), key=lambda p: int(p.stem)) if pulls.is_dir() else []
    return [json.loads(p.read_text(encoding="utf-8")) for p in paths]


def bump_local(
    repo: str, forge_dir: Path, version: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "bump",
        "--repo",
        repo,
        "--image",
        f"{IMAGE}:{version}",
        "--pull-request",
        "--forge",
        "local",
        "--forge-dir",
        str(forge_dir),
        env=env,
        timeout=120,
    )


def land_on_main(remote: Path, tmp_path: Path, rel: str, text: str) -> str:
    """Someone else commits to main meanwhile; main's new tip."""
    other = git.clone(str(remote), tmp_path / f"other-{rel.replace('/', '-')}")
    (other.path / rel).write_text(text)
    other.add()
    other.commit(f"add {rel}")
    other.push("origin", "HEAD:main")
    tip = rev(remote, "main")
    assert tip is not None
    return tip


# -- the local forge -------------------------------------------------------------------------
def test_local_first_bump_opens_pull_request_and_leaves_main_alone(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, FILES)
    main_before = rev(remote, "main")
    forge_dir = tmp_path / "forge"
    out_file = tmp_path / "github-output"
    env = base_env(GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(out_file))

    proc = bump_local(str(remote), forge_dir, "1.1.0", env=env)

    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert rev(remote, "main") == main_before
    assert show(remote, FILE) == f"image: {IMAGE}:1.0.0\n"
    tip = assert_one_commit_on_main(remote)
    assert show(remote, FILE, BRANCH) == f"image: {IMAGE}:1.1.0\n"
    assert show(remote, "README.md", BRANCH) == "config\n"
    [pull] = local_pulls(forge_dir)
    assert (forge_dir / "pulls" / "1.json").is_file()
    assert pull["number"] == 1
    assert (pull["head"], pull["base"], pull["state"]) == (BRANCH, "main", "open")
    assert pull["title"] == "bump shop to 1.1.0"
    assert f"{IMAGE}:1.0.0 -> {IMAGE}:1.1.0" in pull["body"]
    got = github_outputs(out_file)
    assert got["pull-request-url"] == pull["url"] == (forge_dir / "pulls" / "1.json").as_uri()
    assert (got["changed"], got["commit"], got["branch"]) == ("true", tip, BRANCH)


def test_local_higher_version_rebuilds_branch_on_main_and_updates_same_pull(
    tmp_path: Path,
) -> None:
    remote = config_remote(tmp_path, FILES)
    forge_dir = tmp_path / "forge"
    first = bump_local(str(remote), forge_dir, "1.1.0")
    assert first.returncode == 0, first.stderr
    first_tip = assert_one_commit_on_main(remote)
    url = outputs(first.stdout)["pull-request-url"]
    main_tip = land_on_main(remote, tmp_path, "NOTES.md", "unrelated\n")

    second = bump_local(str(remote), forge_dir, "1.2.0")

    assert second.returncode == 0, second.stderr
    tip = assert_one_commit_on_main(remote)  # one commit on main's *new* tip
    assert tip != first_tip
    assert rev(remote, f"{tip}^") == main_tip
    assert show(remote, FILE, BRANCH) == f"image: {IMAGE}:1.2.0\n"
    assert show(remote, "NOTES.md", BRANCH) == "unrelated\n"
    assert show(remote, FILE) == f"image: {IMAGE}:1.0.0\n"
    [pull] = local_pulls(forge_dir)
    assert pull["number"] == 1
    assert pull["title"] == "bump shop to 1.2.0"
    assert f"{IMAGE}:1.0.0 -> {IMAGE}:1.2.0" in pull["body"]
    assert "1.1.0" not in pull["body"]
    got = outputs(second.stdout)
    assert (got["pull-request-url"], got["changed"], got["commit"]) == (url, "true", tip)


def test_local_rerun_changes_nothing(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, FILES)
    forge_dir = tmp_path / "forge"
    first = bump_local(str(remote), forge_dir, "1.1.0")
    assert first.returncode == 0, first.stderr
    tip = assert_one_commit_on_main(remote)
    pull_before = local_pulls(forge_dir)

    again = bump_local(str(remote), forge_dir, "1.1.0")

    assert again.returncode == 0, again.stderr
    assert rev(remote, f"refs/heads/{BRANCH}") == tip
    assert local_pulls(forge_dir) == pull_before
    assert len(pull_before) == 1
    got = outputs(again.stdout)
    assert got["changed"] == "false"
    assert got["pull-request-url"] == pull_before[0]["url"]


def test_local_lower_version_than_the_pull_request_is_refused(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, FILES)
    forge_dir = tmp_path / "forge"
    first = bump_local(str(remote), forge_dir, "1.2.0")
    assert first.returncode == 0, first.stderr
    tip = assert_one_commit_on_main(remote)
    pull_before = local_pulls(forge_dir)

    older = bump_local(str(remote), forge_dir, "1.1.0")  # still newer than main's 1.0.0

    assert older.returncode == EXIT_FINDINGS, older.stdout + older.stderr
    assert "refusing to downgrade" in older.stderr
    assert "1.2.0 to 1.1.0" in older.stderr
    assert rev(remote, f"refs/heads/{BRANCH}") == tip
    assert show(remote, FILE, BRANCH) == f"image: {IMAGE}:1.2.0\n"
    assert local_pulls(forge_dir) == pull_before


def test_local_main_already_has_the_version(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, FILES)
    main_before = rev(remote, "main")
    forge_dir = tmp_path / "forge"

    proc = bump_local(str(remote), forge_dir, "1.0.0")

    assert proc.returncode == 0, proc.stderr
    assert rev(remote, f"refs/heads/{BRANCH}") is None
    assert git.Repo(remote).git("for-each-ref", "--format=%(refname)").stdout == "refs/heads/main\n"
    assert rev(remote, "main") == main_before
    assert local_pulls(forge_dir) == []
    got = outputs(proc.stdout)
    assert (got["changed"], got["pull-request-url"]) == ("false", "")


def test_local_over_smart_http_with_a_token(git_http: GitHttpServer, tmp_path: Path) -> None:
    name = f"pr-{secrets.token_hex(4)}.git"
    bare = config_remote(tmp_path, FILES, name)
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(bare), str(git_http.root / name)], check=True
    )
    served = git_http.root / name
    url = git_http.repo_url(name)
    token = git_http.password
    env = base_env(GITOPS_GIT_TOKEN=token, GITOPS_GIT_USERNAME=git_http.username)
    forge_dir = tmp_path / "forge"

    first = bump_local(url, forge_dir, "1.1.0", env=env)
    assert first.returncode == 0, first.stderr
    first_tip = assert_one_commit_on_main(served)
    second = bump_local(url, forge_dir, "1.2.0", env=env)  # fetches the branch over HTTP

    assert second.returncode == 0, second.stderr
    tip = assert_one_commit_on_main(served)
    assert tip != first_tip
    assert show(served, FILE, BRANCH) == f"image: {IMAGE}:1.2.0\n"
    assert show(served, FILE) == f"image: {IMAGE}:1.0.0\n"
    [pull] = local_pulls(forge_dir)
    assert (pull["head"], pull["title"]) == (BRANCH, "bump shop to 1.2.0")
    for proc in (first, second):
        assert token not in proc.stdout + proc.stderr
    assert token not in (served / "config").read_text()


def test_local_clone_as_repo_keeps_its_main_and_one_commit_on_the_branch(
    tmp_path: Path,
) -> None:
    remote = config_remote(tmp_path, FILES)
    clone = git.clone(str(remote), tmp_path / "clone")
    main_before = clone.head_sha()
    forge_dir = tmp_path / "forge"

    first = bump_local(str(clone.path), forge_dir, "1.1.0")
    assert first.returncode == 0, first.stderr
    second = bump_local(str(clone.path), forge_dir, "1.2.0")
    assert second.returncode == 0, second.stderr

    assert_one_commit_on_main(remote)
    assert show(remote, FILE, BRANCH) == f"image: {IMAGE}:1.2.0\n"
    [pull] = local_pulls(forge_dir)
    assert f"{IMAGE}:1.0.0 -> {IMAGE}:1.2.0" in pull["body"]
    assert clone.head_sha("main") == main_before
    assert (clone.path / FILE).read_text() == f"image: {IMAGE}:1.0.0\n"


# -- GitHub ----------------------------------------------------------------------------------


def bump_github(
    remote: Path, api: GitHubApi, token: str, version: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "bump",
        "--repo",
        str(remote),
        "--image",
        f"{IMAGE}:{version}",
        "--pull-request",
        "--forge",
        "github",
        "--forge-url",
        api.url,
        "--project",
        GITHUB_PROJECT,
        env=base_env(GITHUB_TOKEN=token),
        timeout=120,
    )


def test_github_opens_then_updates_one_pull_request(
    tmp_path: Path, github_api: GitHubApi, github_token: str
) -> None:
    remote = config_remote(tmp_path, FILES)

    first = bump_github(remote, github_api, github_token, "1.1.0")

    assert first.returncode == 0, first.stderr
    assert_one_commit_on_main(remote)
    [pull] = github_api.pulls_in(GITHUB_PROJECT)
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (BRANCH, "main")
    assert (pull["number"], pull["state"], pull["title"]) == (1, "open", "bump shop to 1.1.0")
    assert outputs(first.stdout)["pull-request-url"] == pull["html_url"]
    assert pull["html_url"] == f"{github_api.url}/{GITHUB_PROJECT}/pull/1"

    second = bump_github(remote, github_api, github_token, "1.2.0")

    assert second.returncode == 0, second.stderr
    assert_one_commit_on_main(remote)
    assert show(remote, FILE, BRANCH) == f"image: {IMAGE}:1.2.0\n"
    [pull] = github_api.pulls_in(GITHUB_PROJECT)
    assert (pull["number"], pull["title"]) == (1, "bump shop to 1.2.0")
    assert f"{IMAGE}:1.0.0 -> {IMAGE}:1.2.0" in pull["body"]
    assert outputs(second.stdout)["pull-request-url"] == pull["html_url"]
    assert len(github_api.requests("POST", "/pulls")) == 1
    assert len(github_api.requests("PATCH", "/pulls/1")) == 1
    for proc in (first, second):
        assert github_token not in proc.stdout + proc.stderr


def test_github_bad_token_exits_3_then_a_rerun_opens_the_pull_request(
    tmp_path: Path, github_api: GitHubApi, github_token: str
) -> None:
    remote = config_remote(tmp_path, FILES)
    wrong = "ghp_" + secrets.token_hex(16)

    failed = bump_github(remote, github_api, wrong, "1.1.0")

    assert failed.returncode == EXIT_EXTERNAL, failed.stdout + failed.stderr
    [line] = failed.stderr.splitlines()
    assert line.startswith("gitops-actions bump: error: github: ")
    assert "HTTP 401" in line and "check GITHUB_TOKEN or GH_TOKEN" in line
    assert wrong not in failed.stdout + failed.stderr
    assert github_api.pulls_in(GITHUB_PROJECT) == []

    rerun = bump_github(remote, github_api, github_token, "1.1.0")

    assert rerun.returncode == 0, rerun.stderr
    assert_one_commit_on_main(remote)
    [pull] = github_api.pulls_in(GITHUB_PROJECT)
    assert (pull["head"]["ref"], pull["title"]) == (BRANCH, "bump shop to 1.1.0")
    assert outputs(rerun.stdout)["pull-request-url"] == pull["html_url"]


# -- GitLab ----------------------------------------------------------------------------------
GITLAB_PROJECT = "platform/config"


@pytest.fixture
def gitlab_token() -> str:
    return "glpat-" + secrets.token_hex(12)


@pytest.fixture
def gitlab_api(gitlab_token: str) -> Iterator[GitLabApi]:
    with GitLabApi(gitlab_token) as api:
        api.add_project(GITLAB_PROJECT)
        yield api


def bump_gitlab(
    remote: Path, api: GitLabApi, token: str, version: str, *more: str
) -> subprocess.CompletedProcess[str]:
    return run_cli(
        "bump",
        *more,
        "--repo",
        str(remote),
        "--image",
        f"{IMAGE}:{version}",
        "--pull-request",
        "--forge",
        "gitlab",
        "--forge-url",
        api.url,
        "--project",
        GITLAB_PROJECT,
        env=base_env(GITLAB_TOKEN=token),
        timeout=120,
    )


def test_gitlab_opens_then_updates_one_merge_request(
    tmp_path: Path, gitlab_api: GitLabApi, gitlab_token: str
) -> None:
    remote = config_remote(tmp_path, FILES)

    first = bump_gitlab(remote, gitlab_api, gitlab_token, "1.1.0")

    assert first.returncode == 0, first.stderr
    assert_one_commit_on_main(remote)
    [mr] = gitlab_api.mrs_in(GITLAB_PROJECT)
    assert (mr["source_branch"], mr["target_branch"]) == (BRANCH, "main")
    assert (mr["iid"], mr["state"], mr["title"]) == (1, "opened", "bump shop to 1.1.0")
    assert outputs(first.stdout)["pull-request-url"] == mr["web_url"]
    assert mr["web_url"] == f"{gitlab_api.url}/{GITLAB_PROJECT}/-/merge_requests/1"

    second = bump_gitlab(remote, gitlab_api, gitlab_token, "1.2.0")

    assert second.returncode == 0, second.stderr
    assert_one_commit_on_main(remote)
    assert show(remote, FILE, BRANCH) == f"image: {IMAGE}:1.2.0\n"
    [mr] = gitlab_api.mrs_in(GITLAB_PROJECT)
    assert (mr["iid"], mr["title"]) == (1, "bump shop to 1.2.0")
    assert f"{IMAGE}:1.0.0 -> {IMAGE}:1.2.0" in mr["description"]
    assert outputs(second.stdout)["pull-request-url"] == mr["web_url"]
    assert len(gitlab_api.requests("POST", "/merge_requests")) == 1
    assert len(gitlab_api.requests("PUT", "/merge_requests/1")) == 1
    for proc in (first, second):
        assert gitlab_token not in proc.stdout + proc.stderr


def test_gitlab_server_errors_beyond_retries_exit_3(
    tmp_path: Path, gitlab_api: GitLabApi, gitlab_token: str
) -> None:
    remote = config_remote(tmp_path, FILES)
    gitlab_api.fail_next(500, count=50)  # more than fit in the 8 s of --timeout

    start = time.monotonic()
    proc = bump_gitlab(remote, gitlab_api, gitlab_token, "1.1.0", "--timeout", "8")
    assert time.monotonic() - start < 20  # the forge calls end by the step's deadline

    assert proc.returncode == EXIT_EXTERNAL, proc.stdout + proc.stderr
    [line] = proc.stderr.splitlines()
    assert line.startswith("gitops-actions bump: error: gitlab: ")
    assert "HTTP 500" in line and "try again later" in line
    assert gitlab_token not in proc.stdout + proc.stderr
    assert 1 < len(gitlab_api.requests()) < 50  # retried, then gave up
    assert gitlab_api.mrs_in(GITLAB_PROJECT) == []


def test_pull_request_cannot_go_with_no_push(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, FILES)
    proc = run_cli(
        "bump",
        "--repo",
        str(remote),
        "--image",
        "ghcr.io/acme/shop:1.1.0",
        "--pull-request",
        "--no-push",
        "--forge",
        "local",
        "--forge-dir",
        str(tmp_path / "forge"),
    )
    assert proc.returncode == 2
    assert "cannot go with --no-push" in proc.stderr
