"""The config-repo writer against real git remotes: commits, trailers, races, auth."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gitops_actions import git, writer
from gitops_actions.edit.plan import Plan, Request, plan
from gitops_actions.imageref import parse
from gitops_actions.sandbox import GitHttpServer

from support import base_env, config_remote, process_table, run_cli, show

pytestmark = pytest.mark.component


def test_bump_commits_with_trailers_and_is_idempotent(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"app/deploy.yaml": "image: ghcr.io/acme/shop:1.0.0\n"})
    env = base_env(
        GITHUB_ACTIONS="true",
        GITHUB_OUTPUT=str(tmp_path / "out"),
        GITHUB_REPOSITORY="acme/shop",
        GITHUB_SHA="f" * 40,
        GITHUB_RUN_ID="77",
    )
    first = run_cli("bump", "--repo", str(remote), "--image", "ghcr.io/acme/shop:1.1.0", env=env)
    assert first.returncode == 0, first.stderr
    assert show(remote, "app/deploy.yaml") == "image: ghcr.io/acme/shop:1.1.0\n"
    log = git.Repo(remote).git("log", "-1", "--format=%an%n%B", "main").stdout
    assert log.splitlines()[:2] == [git.BOT.name, "bump shop to 1.1.0"]
    assert "Source-Repository: https://github.com/acme/shop\n" in log
    assert f"Source-Commit: {'f' * 40}\n" in log
    assert "Pipeline: https://github.com/acme/shop/actions/runs/77\n" in log
    head = git.Repo(remote).head_sha("main")
    outputs = (tmp_path / "out").read_text()
    assert f"changed=true\ncommit={head}\nbranch=main\nfiles=app/deploy.yaml\n" in outputs

    again = run_cli("bump", "--repo", str(remote), "--image", "ghcr.io/acme/shop:1.1.0", env=env)
    assert again.returncode == 0, again.stderr
    assert git.Repo(remote).head_sha("main") == head
    assert f"changed=false\ncommit={head}\n" in (tmp_path / "out").read_text()


def test_local_clone_commits_and_pushes(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"values.yaml": "image:\n  repository: r.test/a\n  tag: 1\n"})
    clone = git.clone(str(remote), tmp_path / "clone")
    proc = run_cli(
        "bump",
        "--repo",
        str(clone.path),
        "--image",
        "r.test/a:2",
        "--message",
        "deploy {image} {old_tag} -> {new_tag}",
    )
    assert proc.returncode == 0, proc.stderr
    assert clone.head_sha() == git.Repo(remote).head_sha("main")
    assert (
        git.Repo(remote).git("log", "-1", "--format=%s", "main").stdout
        == "deploy r.test/a 1 -> 2\n"
    )


def test_dirty_clone_is_refused(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"values.yaml": "image: r.test/a:1\n"})
    clone = git.clone(str(remote), tmp_path / "clone")
    (clone.path / "notes.txt").write_text("mine")
    proc = run_cli("bump", "--repo", str(clone.path), "--image", "r.test/a:2")
    assert proc.returncode == 2
    assert "uncommitted changes" in proc.stderr
    assert (clone.path / "values.yaml").read_text() == "image: r.test/a:1\n"


def test_rejected_push_replans_on_the_new_tip(tmp_path: Path) -> None:
    """Another pipeline lands between our plan and our push: we redo the edit on its tip."""
    remote = config_remote(
        tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n", "b.yaml": "image: r.test/b:1.0.0\n"}
    )
    other = git.clone(str(remote), tmp_path / "other")
    calls = []

    def compute(root: Path) -> Plan:
        calls.append(root)
        if len(calls) == 1:  # the race: b is bumped by someone else right now
            (other.path / "b.yaml").write_text("image: r.test/b:2.0.0\n")
            other.add()
            other.commit("bump b")
            other.push("origin", "HEAD:main")
        return plan(root, Request(images=(parse("r.test/a:1.1.0"),)))

    outcome = writer.write(
        writer.Target(str(remote)), compute, lambda p: "bump a", {}, sleep=lambda _: None
    )
    assert outcome.attempts == 2 and outcome.changed
    assert show(remote, "a.yaml") == "image: r.test/a:1.1.0\n"
    assert show(remote, "b.yaml") == "image: r.test/b:2.0.0\n"
    subjects = git.Repo(remote).git("log", "--format=%s", "main").stdout.split("\n")
    assert subjects[:3] == ["bump a", "bump b", "initial"]


def _noisy(remote: Path, tmp_path: Path, rejections: int) -> Callable[[Path], Plan]:
    """A planner that lets another writer land first, ``rejections`` times in a row."""
    other = git.clone(str(remote), tmp_path / "other")
    counter = iter(range(rejections))

    def compute(root: Path) -> Plan:
        n = next(counter, None)
        if n is not None:
            (other.path / "n.txt").write_text(str(n))
            other.add()
            other.commit("noise")
            other.push("origin", "HEAD:main")
        return plan(root, Request(images=(parse("r.test/a:1.1.0"),)))

    return compute


def test_fifteen_rejections_in_a_row_still_land(tmp_path: Path) -> None:
    """The push loop is bounded by the deadline, not by a count of attempts."""
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    compute = _noisy(remote, tmp_path, rejections=15)
    pauses: list[float] = []
    outcome = writer.write(
        writer.Target(str(remote)), compute, lambda p: "bump a", {}, sleep=pauses.append
    )
    assert outcome.changed and outcome.attempts == 16
    assert show(remote, "a.yaml") == "image: r.test/a:1.1.0\n"
    assert max(pauses[8:]) > max(pauses[:3])  # the backoff window grew with contention


def test_gives_up_at_the_deadline(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    compute = _noisy(remote, tmp_path, rejections=10**6)
    started = time.monotonic()
    ends = r"push to main did not succeed within 2s|the 2s budget|did not finish within"
    with pytest.raises(writer.ExternalError, match=ends):
        writer.write(writer.Target(str(remote), timeout=2), compute, lambda p: "x", {})
    assert time.monotonic() - started < 2 + 5  # the deadline, plus one attempt in flight


def _http_config(server: GitHttpServer, tmp_path: Path, name: str, files: dict[str, str]) -> str:
    bare = config_remote(tmp_path, files, name)
    subprocess.run(
        ["git", "clone", "--quiet", "--bare", str(bare), str(server.root / name)], check=True
    )
    return server.repo_url(name)


def test_https_token_never_leaks(git_http: GitHttpServer, tmp_path: Path) -> None:
    url = _http_config(git_http, tmp_path, "leak.git", {"a.yaml": "image: r.test/a:1\n"})
    token = git_http.password
    env = base_env(GITOPS_GIT_TOKEN=token, GITOPS_GIT_USERNAME=git_http.username, GITOPS_DEBUG="1")

    git_http.delay = 0.3
    try:
        with process_table() as seen:
            proc = run_cli("bump", "--repo", url, "--image", "r.test/a:2", env=env)
    finally:
        git_http.delay = 0.0
    assert proc.returncode == 0, proc.stderr
    assert show(git_http.root / "leak.git", "a.yaml") == "image: r.test/a:2\n"
    assert any("git-remote-http" in s or "git push" in s or "git clone" in s for s in seen)
    assert not any(token in s for s in seen)
    assert token not in proc.stdout + proc.stderr
    assert token not in (git_http.root / "leak.git" / "config").read_text()


def test_wrong_token_fails_with_exit_3_and_no_leak(git_http: GitHttpServer, tmp_path: Path) -> None:
    url = _http_config(git_http, tmp_path, "wrong.git", {"a.yaml": "image: r.test/a:1\n"})
    proc = run_cli(
        "bump",
        "--repo",
        url,
        "--image",
        "r.test/a:2",
        env=base_env(GITOPS_GIT_TOKEN="wrong-token-123"),
    )
    assert proc.returncode == 3
    assert "wrong-token-123" not in proc.stdout + proc.stderr


def _spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "gitops_actions", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def cpu_hog() -> Iterator[None]:
    """A background process keeping one core busy, as other jobs on a CI runner do."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


@pytest.mark.parametrize("kind", ["file", "http"])
def test_fifty_concurrent_bumps_all_land_on_a_loaded_machine(
    kind: str, git_http: GitHttpServer, tmp_path: Path, cpu_hog: None
) -> None:
    files = {f"apps/app{i}/deploy.yaml": f"image: r.test/app{i}:1.0.0\n" for i in range(50)}
    if kind == "http":
        url = _http_config(git_http, tmp_path, f"race50-{tmp_path.name}.git", files)
        remote = git_http.root / url.rsplit("/", 1)[1]
        env = base_env(GITOPS_GIT_TOKEN=git_http.password, GITOPS_GIT_USERNAME=git_http.username)
    else:
        remote = config_remote(tmp_path, files)
        url, env = str(remote), base_env()
    procs = [
        _spawn("bump", "--repo", url, "--image", f"r.test/app{i}:1.1.0", env=env) for i in range(50)
    ]
    results = [(p.wait(timeout=400), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0] * 50, [r for r in results if r[0]]
    assert len(git.Repo(remote).git("log", "--format=%H", "main").stdout.split()) == 51
    for i in range(50):
        assert show(remote, f"apps/app{i}/deploy.yaml") == f"image: r.test/app{i}:1.1.0\n"


def test_ten_racing_versions_end_on_the_highest(git_http: GitHttpServer, tmp_path: Path) -> None:
    url = _http_config(git_http, tmp_path, "race10.git", {"d.yaml": "image: r.test/a:1.0.0\n"})
    env = base_env(GITOPS_GIT_TOKEN=git_http.password, GITOPS_GIT_USERNAME=git_http.username)
    procs = [
        _spawn("bump", "--repo", url, "--image", f"r.test/a:1.0.{n}", env=env) for n in range(1, 11)
    ]
    codes = [p.wait(timeout=300) for p in procs]
    assert set(codes) <= {0, 1}, codes  # 1: refused as a downgrade of what landed first
    assert show(git_http.root / "race10.git", "d.yaml") == "image: r.test/a:1.0.10\n"


def test_remote_whose_head_names_a_missing_branch(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    git.Repo(remote).git("symbolic-ref", "HEAD", "refs/heads/master")  # as `git init --bare`
    proc = run_cli("bump", "--repo", str(remote), "--image", "r.test/a:1.1.0")
    assert proc.returncode == 0, proc.stderr
    assert show(remote, "a.yaml") == "image: r.test/a:1.1.0\n"
    assert git.Repo(remote).git("branch", "--list").stdout.split() == ["main"]


def test_no_commit_is_refused_on_a_remote(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    before = git.Repo(remote).head_sha("main")
    for flag in ("--no-commit", "--no-push"):
        proc = run_cli("bump", "--repo", str(remote), "--image", "r.test/a:1.1.0", flag)
        assert proc.returncode == 2, proc.stdout + proc.stderr
    assert git.Repo(remote).head_sha("main") == before


def test_a_failed_push_leaves_the_clone_as_it_was(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    clone = git.clone(str(remote), tmp_path / "clone")
    start = clone.head_sha()
    clone.git("remote", "set-url", "origin", str(tmp_path / "missing.git"))
    proc = run_cli("bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0")
    assert proc.returncode == 3
    assert clone.head_sha() == start and not clone.is_dirty()
    clone.git("remote", "set-url", "origin", str(remote))
    again = run_cli("bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0")
    assert again.returncode == 0, again.stderr
    assert show(remote, "a.yaml") == "image: r.test/a:1.1.0\n"


@pytest.mark.parametrize("template", ["{bogus}", "{names", "}", "{0}", "{new_tag:>q}"])
def test_a_bad_message_fails_before_anything_is_written(tmp_path: Path, template: str) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    clone = git.clone(str(remote), tmp_path / "clone")
    proc = run_cli(
        "bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0", "--message", template
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("gitops-actions bump: error: --message")
    assert not clone.is_dirty()


def test_retries_is_deprecated_and_ignored(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    proc = run_cli("bump", "--repo", str(remote), "--image", "r.test/a:1.1.0", "--retries", "0")
    assert proc.returncode == 0, proc.stderr
    assert "--retries is deprecated and ignored" in proc.stdout
    assert show(remote, "a.yaml") == "image: r.test/a:1.1.0\n"


@pytest.mark.parametrize("timeout", ["0", "-5", "1e9", "nan"])
def test_timeout_must_be_a_sensible_budget(tmp_path: Path, timeout: str) -> None:
    proc = run_cli("bump", "--repo", str(tmp_path), "--image", "r.test/a:1", "--timeout", timeout)
    assert proc.returncode == 2 and "--timeout" in proc.stderr, proc.stderr


def test_detached_head_needs_a_branch(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    clone = git.clone(str(remote), tmp_path / "clone")
    clone.git("checkout", "--quiet", "--detach")
    proc = run_cli("bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0")
    assert proc.returncode == 2 and "HEAD is detached" in proc.stderr
    proc = run_cli(
        "bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0", "--branch", "main"
    )
    assert proc.returncode == 0, proc.stderr
    assert show(remote, "a.yaml") == "image: r.test/a:1.1.0\n"


def test_credentials_in_the_url_move_to_a_header(git_http: GitHttpServer, tmp_path: Path) -> None:
    url = _http_config(git_http, tmp_path, "in-url.git", {"a.yaml": "image: r.test/a:1\n"})
    token = git_http.password
    with_credentials = url.replace("http://", f"http://{git_http.username}:{token}@")
    with process_table() as seen:
        proc = run_cli("bump", "--repo", with_credentials, "--image", "r.test/a:2")
    assert proc.returncode == 0, proc.stderr
    assert token not in proc.stdout + proc.stderr
    assert not any(token in snapshot for snapshot in seen)
    assert show(git_http.root / "in-url.git", "a.yaml") == "image: r.test/a:2\n"


# -- nothing half-done -----------------------------------------------------------------------
def test_edits_of_one_bump_are_all_or_nothing_across_files(tmp_path: Path) -> None:
    """The second file cannot be written: the first is put back, and the error is bad input."""
    for rel in ("a/deploy.yaml", "b/deploy.yaml"):
        (tmp_path / rel).parent.mkdir()
        (tmp_path / rel).write_text("image: r.test/a:1.0.0\n")
    before = _as_it_is(_aged(tmp_path / "a/deploy.yaml", 0o640))

    def compute(root: Path) -> Plan:
        result = plan(root, Request(images=(parse("r.test/a:1.1.0"),)))
        (root / "b/deploy.yaml").unlink()  # now b/deploy.yaml cannot be replaced by a file
        (root / "b/deploy.yaml").mkdir()
        (root / "b/deploy.yaml/keep").write_text("x")
        return result

    target = writer.Target(str(tmp_path), commit=False)
    with pytest.raises(writer.InputError) as caught:
        writer.write(target, compute, lambda p: "x", {})
    assert caught.value.exit_code == 2
    assert "b/deploy.yaml" in caught.value.one_line()
    assert _as_it_is(tmp_path / "a/deploy.yaml") == before
    leftovers = [p.name for p in tmp_path.rglob("*") if "gitops" in p.name]
    assert leftovers == []


def _as_it_is(path: Path) -> tuple[int, int, int, bytes]:
    """What "exactly as it was" compares: inode, mtime (ns), mode and bytes."""
    found = path.stat()
    return found.st_ino, found.st_mtime_ns, found.st_mode, path.read_bytes()


def _aged(path: Path, mode: int = 0o600) -> Path:
    path.chmod(mode)
    os.utime(path, ns=(1_000_000_123, 1_000_000_456))  # 2001, to the nanosecond
    return path


def test_a_refused_push_leaves_each_file_exactly_as_it_was(tmp_path: Path) -> None:
    remote = config_remote(
        tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n", "b/b.yaml": "image: r.test/a:1.0.0\n"}
    )
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'policy: frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    clone = git.clone(str(remote), tmp_path / "clone")
    files = [_aged(clone.path / "a.yaml"), _aged(clone.path / "b/b.yaml", 0o644)]
    before = [_as_it_is(f) for f in files]
    start = clone.head_sha()

    proc = run_cli("bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0")

    assert proc.returncode == 3 and "policy: frozen" in proc.stderr, proc.stderr
    assert [_as_it_is(f) for f in files] == before
    assert clone.head_sha() == start and not clone.is_dirty()
    assert not list((clone.path / ".git").glob("gitops-*"))


def test_a_push_rejected_until_the_deadline_leaves_each_file_as_it_was(tmp_path: Path) -> None:
    """The files were reset to newer tips on the way: each is still put back as it was."""
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n", "c.yaml": "x: 1\n"})
    clone = git.clone(str(remote), tmp_path / "clone")
    files = [_aged(clone.path / "a.yaml"), _aged(clone.path / "c.yaml")]
    before = [_as_it_is(f) for f in files]
    other = git.clone(str(remote), tmp_path / "other")
    moves = iter(range(1000))

    def compute(root: Path) -> Plan:  # another writer lands on c.yaml before each push
        (other.path / "c.yaml").write_text(f"x: {next(moves) + 2}\n")
        other.add(["c.yaml"])
        other.commit("move on")
        other.push("origin", "HEAD:refs/heads/main")
        return plan(root, Request(images=(parse("r.test/a:1.1.0"),)))

    target = writer.Target(str(clone.path), timeout=2)
    with pytest.raises(writer.ExternalError):
        writer.write(target, compute, lambda p: "bump", base_env(), sleep=lambda _: None)

    assert [_as_it_is(f) for f in files] == before
    assert not clone.is_dirty()


def test_a_failing_second_file_leaves_the_first_exactly_as_it_was(tmp_path: Path) -> None:
    remote = config_remote(
        tmp_path, {"a/deploy.yaml": "image: r.test/a:1.0.0\n", "b/deploy.yaml": "x: 1\n"}
    )
    clone = git.clone(str(remote), tmp_path / "clone")
    (clone.path / "b/deploy.yaml").write_text("image: r.test/a:1.0.0\n")
    clone.add(["b/deploy.yaml"])
    clone.commit("two files")
    first = _aged(clone.path / "a/deploy.yaml")
    before = _as_it_is(first)

    def compute(root: Path) -> Plan:
        result = plan(root, Request(images=(parse("r.test/a:1.1.0"),)))
        assert len(result.changes) == 2
        (root / "b/deploy.yaml").unlink()  # now b/deploy.yaml cannot be replaced by a file
        (root / "b/deploy.yaml").mkdir()
        (root / "b/deploy.yaml/keep").write_text("x")
        return result

    with pytest.raises(writer.InputError) as caught:
        writer.write(writer.Target(str(clone.path)), compute, lambda p: "x", base_env())

    assert "b/deploy.yaml" in caught.value.one_line()
    assert _as_it_is(first) == before
    assert not [p for p in clone.path.rglob("*") if p.name.startswith(".gitops-")]


def test_a_stale_index_lock_leaves_the_clone_exactly_as_it_was(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    clone = git.clone(str(remote), tmp_path / "clone")
    start = clone.head_sha()
    lock = clone.path / ".git" / "index.lock"
    lock.write_text("")
    proc = run_cli("bump", "--repo", str(clone.path), "--image", "r.test/a:1.1.0")
    assert proc.returncode == 2, proc.stderr
    assert "index.lock" in proc.stderr and "reset" not in proc.stderr, proc.stderr
    assert (clone.path / "a.yaml").read_text() == "image: r.test/a:1.0.0\n"
    assert clone.head_sha() == start and lock.exists()
    assert git.Repo(remote).head_sha("main") == start
    lock.unlink()
    assert not clone.is_dirty()


def test_pull_request_with_an_unusable_forge_dir_pushes_nothing(tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"a.yaml": "image: r.test/a:1.0.0\n"})
    not_a_dir = tmp_path / "forge"
    not_a_dir.write_text("a file, not a directory\n")
    review = ("--pull-request", "--forge", "local", "--forge-dir", str(not_a_dir))
    proc = run_cli("bump", "--repo", str(remote), "--image", "r.test/a:1.1.0", *review)
    assert proc.returncode == 2, proc.stderr
    assert "--forge-dir" in proc.stderr, proc.stderr
    branches = git.Repo(remote).git("for-each-ref", "--format=%(refname)").stdout.split()
    assert branches == ["refs/heads/main"]
