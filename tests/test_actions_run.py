"""Each shipped action run for real, as a runner runs it (tests/fakes/actions_runner.py).

The first use installs the locked runtime into a venv (cold; pip may only read the wheels
scripts/setup.sh downloaded); later uses in the job find it, later jobs restore it from the cache.
Every use leaves PATH and the job's environment as they were.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops_actions import git
from gitops_actions.sandbox import DockerSandbox

from fakes.actions_runner import ActionFailed, Cache, Job
from support import config_remote, need, show

pytestmark = pytest.mark.component
ROOT = Path(__file__).resolve().parent.parent
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop, namespace: shop}\n"
D1 = "sha256:" + "1" * 64


WHEELHOUSE = ROOT / ".venv" / "wheelhouse"  # the runtime lock's wheels (scripts/setup.sh)


def runner_env() -> dict[str, str]:
    """What a runner's environment holds that matters here; pip installs from the
    wheelhouse only, so nothing is fetched from the network."""
    if not any(WHEELHOUSE.glob("*.whl")):
        need("the runtime lock's wheels in .venv/wheelhouse (bash scripts/setup.sh)")
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    return env | {
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(WHEELHOUSE),
        "PIP_CONFIG_FILE": os.devnull,
    }


class Runner:
    def __init__(self, root: Path) -> None:
        self.root, self.cache, self.jobs = root, Cache(root / "cache"), 0

    def job(self, **kwargs: str) -> Job:
        self.jobs += 1
        env = runner_env() | kwargs
        return Job(self.root / f"job{self.jobs}", self.cache, env=env)


@pytest.fixture(scope="session")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    """One runner (cache) for the session; its first job installs cold."""
    runner = Runner(tmp_path_factory.mktemp("runner"))
    job = runner.job()
    (job.workspace / "cm.yaml").write_text(CONFIGMAP + "data: {a: '1'}\n")
    cold = job.use(ROOT / "validate", {"paths": "cm.yaml"})
    assert cold.ran("Install") and not cold.ran("Set up Python")
    assert cold.outputs["errors"] == "0"
    job.finish()
    yield runner


def unchanged(job: Job, path: str) -> None:
    """PATH as it was; the only variables later steps see are the carried outputs
    (GITOPS_OUT_*, what lets handoff follow bump in the same job)."""
    assert job.env["PATH"] == path
    assert job.path_additions == []
    assert [name for name in job.env_additions if not name.startswith("GITOPS_OUT_")] == []


def test_install_is_cached_within_a_job_and_across_jobs(runner: Runner) -> None:
    job = runner.job()
    path = job.env["PATH"]
    (job.workspace / "cm.yaml").write_text(CONFIGMAP + "data: {a: '1'}\n")
    warm = job.use(ROOT / "validate", {"paths": "cm.yaml", "formats": "junit=report.xml"})
    assert warm.ran("Restore") and not warm.ran("Set up Python")
    assert warm.outputs == {"errors": "0", "warnings": "0", "resources": "1"}
    assert 'tests="1" failures="0"' in (job.workspace / "report.xml").read_text()
    venv = next((job.temp / "gitops-actions").iterdir())
    assert (venv / ".complete").is_file()
    again = job.use(ROOT / "validate", {"paths": "cm.yaml"})  # the same job: nothing to fetch
    assert not again.ran("Restore")
    assert again.seconds("Install") < warm.seconds("Restore") + 5
    unchanged(job, path)
    assert not (venv / "bin" / "gitops-actions").exists(), "the package runs from the action"
    assert [p.name for p in venv.iterdir() if p.name == "src"] == []


def test_a_failing_step_fails_the_action_with_its_one_line(runner: Runner) -> None:
    job = runner.job()
    (job.workspace / "bad.yaml").write_text("kind: [\n")
    with pytest.raises(ActionFailed, match=r"exit [12]\b[\s\S]*bad\.yaml"):
        job.use(ROOT / "validate", {"paths": "bad.yaml"})


def test_an_older_runner_python_gets_setup_python_without_touching_path(
    runner: Runner, tmp_path: Path
) -> None:
    old = tmp_path / "old-python"
    old.mkdir()
    for name in ("python3", "python"):  # answers like Python 3.10 would: too old
        (old / name).write_text("#!/bin/sh\nexit 1\n")
        (old / name).chmod(0o755)
    job = runner.job(PATH=f"{old}:{os.environ['PATH']}")
    path = job.env["PATH"]
    (job.workspace / "cm.yaml").write_text(CONFIGMAP)
    use = job.use(ROOT / "validate", {"paths": "cm.yaml"})
    assert use.ran("Set up Python") and use.outputs["resources"] == "1"
    unchanged(job, path)


def test_the_dispatcher_runs_the_step_it_is_given(runner: Runner) -> None:
    job = runner.job()
    path = job.env["PATH"]
    (job.workspace / "cm.yaml").write_text(CONFIGMAP)
    use = job.use(ROOT, {"step": "validate", "paths": "cm.yaml"})
    assert use.outputs["resources"] == "1" and use.outputs["errors"] == "0"
    unchanged(job, path)


def test_bump_action_commits_and_pushes(runner: Runner, tmp_path: Path) -> None:
    remote = config_remote(tmp_path, {"deploy.yaml": "image: r.test/shop:1.0.0\n"})
    job = runner.job()
    path = job.env["PATH"]
    use = job.use(ROOT / "bump", {"repo": str(remote), "images": f"r.test/shop:1.1.0@{D1}"})
    assert show(remote, "deploy.yaml") == f"image: r.test/shop:1.1.0@{D1}\n"
    head = git.Repo(remote).git("rev-parse", "main").stdout.strip()
    assert use.outputs["changed"] == "true" and use.outputs["commit"] == head
    assert use.outputs["files"] == "deploy.yaml"
    assert use.outputs["new-ref"] == f"r.test/shop:1.1.0@{D1}"
    unchanged(job, path)


def test_promote_and_rollback_actions(runner: Runner, tmp_path: Path) -> None:
    overlay = "resources: [../../base]\nimages:\n  - name: r.test/shop\n    newTag: {}\n"
    prod = "apps/shop/overlays/prod/kustomization.yaml"
    remote = config_remote(
        tmp_path,
        {
            "apps/shop/overlays/staging/kustomization.yaml": overlay.format("1.4.0"),
            prod: overlay.format("1.3.0"),
        },
    )
    job = runner.job()
    promoted = job.use(
        ROOT / "promote",
        {
            "repo": str(remote),
            "image": "r.test/shop",
            "from": "staging",
            "to": "prod",
            "pull-request": "false",
        },
    )
    assert promoted.outputs["changed"] == "true"
    assert show(remote, prod) == overlay.format("1.4.0")
    rolled = job.use(ROOT / "rollback", {"repo": str(remote), "commit": promoted.outputs["commit"]})
    assert rolled.outputs["changed"] == "true"
    assert show(remote, prod) == overlay.format("1.3.0")


def test_diff_then_comment_actions(runner: Runner) -> None:
    job = runner.job()
    repo = git.init(job.workspace / "config")
    (repo.path / "apps/shop").mkdir(parents=True)
    (repo.path / "apps/shop/cm.yaml").write_text(CONFIGMAP + "data: {a: '1'}\n")
    repo.add()
    repo.commit("one")
    (repo.path / "apps/shop/cm.yaml").write_text(CONFIGMAP + "data: {a: '2'}\n")
    repo.add()
    repo.commit("two")
    diff = job.use(
        ROOT / "diff",
        {"repo": "config", "base": "HEAD~1", "formats": "json", "output": "diff.json"},
    )
    assert diff.outputs["changed"] == "true" and diff.outputs["changes"] == "1"
    [app] = json.loads((job.workspace / "diff.json").read_text())["apps"]
    assert app["name"] == "apps/shop"
    comment = job.use(
        ROOT / "comment",
        {"from": "diff.json", "forge": "local", "pr": "7", "project": "acme/config"},
    )
    assert comment.outputs["parts"] == "1" and comment.outputs["changed"] == "true"
    [url] = comment.outputs["comment-urls"].splitlines()
    assert "data.a: 1 -> 2" in Path(url).read_text()


def test_build_action_pushes_and_outputs_the_digest(
    runner: Runner, docker_sandbox: DockerSandbox
) -> None:
    job = runner.job()
    (job.workspace / "hello.txt").write_text("hello\n")
    (job.workspace / "Dockerfile").write_text("FROM scratch\nCOPY hello.txt /\n")
    image = f"{docker_sandbox.registry}/acme/shop"
    use = job.use(
        ROOT / "build",
        {"image": image, "tags": "1.2.3\nlatest", "docker-host": docker_sandbox.docker_host},
    )
    assert use.outputs["tags"] == f"{image}:1.2.3\n{image}:latest"
    assert use.outputs["builder"] == "docker"
    assert re.fullmatch(r"sha256:[0-9a-f]{64}", use.outputs["digest"])
    assert use.outputs["ref"] == f"{image}:1.2.3@{use.outputs['digest']}"
