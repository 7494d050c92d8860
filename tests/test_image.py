"""The tool's image (Dockerfile) built with a real Docker engine, offline.

Nothing can be pulled, so every image the Dockerfile names by a build argument is made
here: a base image from this machine's own files (Debian's python3.11, git and buildah,
busybox for a shell, and the shared libraries they load), a wheels image from the runtime
lock's wheels (.venv/wheelhouse, from scripts/setup.sh), and stand-ins for the kustomize and
helm images. The built image must run as a non-root user, validate (render) a kustomization,
and run the bot as deploy/deployment.yaml starts it (read-only root filesystem, its
volumes, its user) until it answers /healthz and /readyz and drains on SIGTERM. Its target
`builder` must run the build component's job as GitLab's Docker executor runs it, without
--privileged, and push what it built to a registry.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_components import dotenv, interpolate

from gitops_actions.retry import Backoff, Deadline, attempts
from gitops_actions.sandbox import DockerSandbox

from support import image_config, layer_files, need, served_digest

pytestmark = pytest.mark.component
ROOT = Path(__file__).resolve().parent.parent
WHEELHOUSE = ROOT / ".venv" / "wheelhouse"
PYTHON = Path("/usr/bin/python3.11")
ROOTDIRS = ("usr", "usr/bin", "usr/lib", "usr/lib64", "usr/sbin", "etc", "root", "var")
BUILDAH = Path("/usr/bin/buildah")
CONTAINERS_CONFIG = (Path("/etc/containers"), Path("/usr/share/containers"))  # its packages'
SKIP = re.compile(r"/(test|tests|idlelib|tkinter|turtledemo|__pycache__)(/|$)")


def _elf(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def _libraries(binaries: list[Path]) -> set[Path]:
    found: set[Path] = set()
    for binary in binaries:
        out = subprocess.run(["ldd", str(binary)], capture_output=True, text=True).stdout
        found |= {Path(p) for p in re.findall(r"(/\S+\.so[.\d]*) \(0x", out)}
    return found


def base_rootfs(tar_path: Path) -> None:
    """Debian's python3.11, git, buildah (and its configuration) and busybox from this
    machine, with what they load."""
    trees = [
        Path("/usr/lib/python3.11"),
        Path("/usr/lib/git-core"),
        Path("/usr/share/python-wheels"),
    ]
    trees += [Path("/usr/share/git-core/templates"), *CONTAINERS_CONFIG]
    files = [PYTHON, Path("/usr/bin/git"), Path("/usr/bin/busybox"), BUILDAH]
    for tree in trees:
        files += [p for p in tree.rglob("*") if p.is_file() and not SKIP.search(str(p))]
    modules = list((ROOT / ".venv" / "lib").rglob("*.so*"))  # what the wheels' modules load
    libraries = _libraries([f for f in files if _elf(f)] + modules)
    with tarfile.open(tar_path, "w") as tar:

        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        def link(name: str, target: str) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.linkname = tarfile.SYMTYPE, target
            tar.addfile(info)

        def text(name: str, content: str) -> None:
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))

        for name in ROOTDIRS:
            add_dir(name)
        add_dir("tmp", 0o1777)
        add_dir("var/tmp", 0o1777)
        for name in ("bin", "sbin", "lib", "lib64"):
            link(name, f"usr/{name}")
        added: set[str] = set()
        paths = sorted({*files, *(Path(os.path.realpath(lib)) for lib in libraries)})
        for path in paths:
            name = re.sub(r"^(lib|lib64)/", r"usr/\1/", str(path).lstrip("/"))
            for parent in reversed(Path(name).parents[:-1]):  # every directory, readable
                if str(parent) not in added and str(parent) not in ROOTDIRS:
                    added.add(str(parent))
                    add_dir(str(parent))
            if name not in added:
                added.add(name)
                tar.add(path, name, recursive=False)
        for lib in libraries:  # the names the loader looks for, where they are links
            name = re.sub(r"^(lib|lib64)/", r"usr/\1/", str(lib).lstrip("/"))
            if name not in added:
                added.add(name)
                link(name, os.path.realpath(lib))
        link("usr/bin/python3", "python3.11")
        for applet in ("sh", "mkdir", "chown", "chmod", "printf", "rm", "cat", "id", "ls", "env"):
            link(f"usr/bin/{applet}", "busybox")
        text("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
        text("etc/group", "root:x:0:\n")


BUILD_ARGS = [
    *("--build-arg", "BASE_IMAGE=local/base:test"),
    *("--build-arg", "KUSTOMIZE_IMAGE=local/tools:test"),
    *("--build-arg", "HELM_IMAGE=local/tools:test"),
    *("--build-arg", "WHEELS=local/wheels:test"),
]


def docker_run(
    sandbox: DockerSandbox, *args: str, timeout: int = 1800
) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ["PATH"], "DOCKER_HOST": sandbox.docker_host, "HOME": "/root"}
    env["DOCKER_BUILDKIT"] = "0"  # the engine's own builder: no buildx here
    return subprocess.run(
        ["docker", *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def docker(sandbox: DockerSandbox, *args: str, timeout: int = 1800) -> str:
    proc = docker_run(sandbox, *args, timeout=timeout)
    assert proc.returncode == 0, (
        f"docker {' '.join(args[:3])}: {proc.stdout[-3000:]}{proc.stderr[-3000:]}"
    )
    return proc.stdout


def build_from(sandbox: DockerSandbox, context: Path, tag: str, dockerfile: str) -> None:
    (context / "Dockerfile").write_text(dockerfile)
    docker(sandbox, "build", "-q", "-t", tag, str(context))


@pytest.fixture(scope="module")
def image(docker_sandbox: DockerSandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    for program, why in (
        ("docker", "the docker CLI"),
        ("ldd", "ldd"),
        ("busybox", "busybox-static"),
    ):
        if shutil.which(program) is None:
            need(f"{why} is not installed")
    if not PYTHON.is_file() or not any(WHEELHOUSE.glob("*.whl")):
        need("Debian's python3.11 and .venv/wheelhouse (bash scripts/setup.sh)")
    if not BUILDAH.is_file() or not all(path.is_dir() for path in CONTAINERS_CONFIG):
        need("Debian's buildah is not installed (apt-get install buildah)")
    work = tmp_path_factory.mktemp("image")
    base_rootfs(work / "rootfs.tar")
    docker(docker_sandbox, "import", str(work / "rootfs.tar"), "local/base:test")
    wheels = work / "wheels"
    shutil.copytree(WHEELHOUSE, wheels / "wheels")
    build_from(docker_sandbox, wheels, "local/wheels:test", "FROM scratch\nCOPY wheels /wheels\n")
    tools = work / "tools"
    tools.mkdir()
    (tools / "kustomize").write_text("#!/bin/sh\necho 'v5.6.0 (stand-in)'\n")
    (tools / "helm").write_text("#!/bin/sh\necho 'v3.17.3 (stand-in)'\n")
    build_from(
        docker_sandbox,
        tools,
        "local/tools:test",
        "FROM local/base:test\nCOPY kustomize /app/kustomize\nCOPY helm /usr/bin/helm\n"
        "RUN chmod 755 /app/kustomize /usr/bin/helm\n",
    )
    docker(docker_sandbox, "build", "-q", "-t", "local/gitops-actions:test", *BUILD_ARGS, str(ROOT))
    yield "local/gitops-actions:test"


@pytest.fixture(scope="module")
def builder_image(docker_sandbox: DockerSandbox, image: str) -> str:
    """The target ``builder``, from the stages the default build has made."""
    tag = "local/gitops-actions:test-builder"
    docker(docker_sandbox, "build", "-q", "-t", tag, "--target", "builder", *BUILD_ARGS, str(ROOT))
    return tag


@pytest.fixture(scope="module")
def registry_base(docker_sandbox: DockerSandbox, tmp_path_factory: pytest.TempPathFactory) -> str:
    """busybox as a base image on the loopback registry, for FROM in a job's build."""
    context = tmp_path_factory.mktemp("busybox")
    shutil.copy("/usr/bin/busybox", context / "busybox")
    tag = f"{docker_sandbox.registry}/base/busybox:1"
    dockerfile = (
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "/bin"]\n'
    )
    (context / "Dockerfile").write_text(dockerfile)
    docker(docker_sandbox, "build", "-q", "--network", "host", "-t", tag, str(context))
    docker(docker_sandbox, "push", "-q", tag)
    return tag


def test_image_runs_as_a_non_root_user_with_its_tools(
    docker_sandbox: DockerSandbox, image: str
) -> None:
    out = docker(
        docker_sandbox,
        "run",
        "--rm",
        "--network",
        "none",
        "--entrypoint",
        "sh",
        image,
        "-c",
        "id -u; id -g; git --version; kustomize; helm; gitops-actions --version",
    )
    uid, gid, git_version, kustomize, helm, version = out.splitlines()
    assert uid != "0" and gid != "0"
    assert git_version.startswith("git version ")
    assert "stand-in" in kustomize and "stand-in" in helm
    assert version.startswith("gitops-actions ")


def test_image_validates_a_kustomization(
    docker_sandbox: DockerSandbox, image: str, tmp_path: Path
) -> None:
    app = tmp_path / "config" / "apps" / "shop"
    app.mkdir(parents=True)
    (app / "kustomization.yaml").write_text(
        "namespace: shop\nresources: [cm.yaml]\nimages:\n  - name: r.test/shop\n    newTag: 1.2.3\n"
    )
    (app / "cm.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shop}\n")
    for path in (tmp_path, *tmp_path.rglob("*")):
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the image's user
    out = docker(
        docker_sandbox,
        "run",
        "--rm",
        "--network",
        "none",
        "-v",
        f"{tmp_path / 'config'}:/work:ro",
        image,
        "validate",
        "apps/shop",
        "--format",
        "json",
    )
    assert '"resources": 1' in out and '"errors": 0' in out, out


def deployment_container() -> tuple[dict[str, Any], dict[str, Any]]:
    doc = yaml.safe_load((ROOT / "deploy" / "deployment.yaml").read_text())
    pod: dict[str, Any] = doc["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    return pod, container


def run_options(pod: dict[str, Any], container: dict[str, Any], secrets: Path) -> list[str]:
    """``docker run`` options that give the container what the Deployment gives it."""
    pod_ctx, ctx = pod["securityContext"], container["securityContext"]
    options = ["--user", f"{pod_ctx['runAsUser']}:{pod_ctx['runAsGroup']}"]
    options += ["--group-add", str(pod_ctx["fsGroup"])]
    if ctx["readOnlyRootFilesystem"]:
        options.append("--read-only")
    if not ctx["allowPrivilegeEscalation"]:
        options += ["--security-opt", "no-new-privileges"]
    options += [f"--cap-drop={cap}" for cap in ctx["capabilities"]["drop"]]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    for mount in container["volumeMounts"]:
        volume = volumes[mount["name"]]
        if "emptyDir" in volume:  # writable by the pod's fsGroup, like an emptyDir
            options += ["--tmpfs", f"{mount['mountPath']}:mode=1777"]
        elif "secret" in volume:
            options += ["-v", f"{secrets}:{mount['mountPath']}:ro"]
        else:
            raise AssertionError(f"no stand-in for volume {volume}")
    for variable in container.get("env", []):
        if "value" in variable:
            options += ["-e", f"{variable['name']}={variable['value']}"]
        else:
            assert variable["valueFrom"]["secretKeyRef"].get("optional"), variable
    return [*options, "--entrypoint", container["command"][0]]


def test_image_runs_the_bot_as_deploy_starts_it(
    docker_sandbox: DockerSandbox, image: str, tmp_path: Path
) -> None:
    pod, container = deployment_container()
    secrets = tmp_path / "secrets"
    secrets.mkdir(mode=0o755)
    for key in ("webhook-secret", "token"):  # the keys the Deployment's Secret holds
        (secrets / key).write_text(f"{key}-{uuid.uuid4().hex}\n")
        (secrets / key).chmod(0o644)
    name = f"serve-{uuid.uuid4().hex[:8]}"
    options = run_options(pod, container, secrets)
    docker(
        docker_sandbox,
        "run", "-d", "--name", name, "--network", "none", *options, image,
        *container["command"][1:], *container["args"],
    )  # fmt: skip
    try:
        port = container["ports"][0]["containerPort"]
        probe = (
            "import sys, urllib.request\n"
            "for path in sys.argv[1:]:\n"
            f"    with urllib.request.urlopen('http://127.0.0.1:{port}' + path, timeout=5) as r:\n"
            "        print(path, r.status, r.read().decode().strip())\n"
        )
        paths = [container["livenessProbe"]["httpGet"]["path"]]
        paths.append(container["readinessProbe"]["httpGet"]["path"])
        python = "/opt/gitops-actions/bin/python"
        answer = None
        for _ in attempts(Deadline.after(60), what="serve in the image", backoff=Backoff(0.2)):
            answer = docker_run(docker_sandbox, "exec", name, python, "-c", probe, *paths)
            running = docker(docker_sandbox, "inspect", "-f", "{{.State.Running}}", name)
            assert running.strip() == "true", docker(docker_sandbox, "logs", name)
            if answer.returncode == 0:
                break
        assert answer is not None and answer.stdout.splitlines() == [
            "/healthz 200 ok",
            "/readyz 200 ready",
        ], answer.stdout + answer.stderr
        state = docker(docker_sandbox, "exec", name, "ls", "/var/lib/gitops-serve")
        assert "serve.db" in state.split(), state  # the state lives on the volume
        assert docker(docker_sandbox, "exec", name, "id", "-u").strip() != "0"
        docker(docker_sandbox, "stop", "-t", "30", name)  # SIGTERM: drain, then exit 0
        assert docker(docker_sandbox, "inspect", "-f", "{{.State.ExitCode}}", name).strip() == "0"
    finally:
        docker_run(docker_sandbox, "rm", "-f", name)


# What a GitLab runner must let the build job do (docs/build.md): buildah as root without
# CAP_SYS_ADMIN makes a user namespace, which Docker's default seccomp profile refuses.
RUNNER_ALLOWS: dict[str, list[str]] = {
    "nothing": [],
    "seccomp-unconfined": ["--security-opt", "seccomp=unconfined"],  # security_opt
    "cap-sys-admin": ["--cap-add", "SYS_ADMIN"],  # cap_add
}


@pytest.mark.parametrize("allow", list(RUNNER_ALLOWS))
def test_builder_image_runs_the_build_component_without_privileges(
    docker_sandbox: DockerSandbox,
    builder_image: str,
    registry_base: str,
    tmp_path: Path,
    allow: str,
) -> None:
    """The build component's job as GitLab's Docker executor runs it: its variables, its
    script in a shell (entrypoint cleared), the project mounted as the working directory,
    no Docker engine, not --privileged. Only the job's own CI variables are added."""
    user, env = docker(
        docker_sandbox, "inspect", "-f", "{{.Config.User}}\n{{json .Config.Env}}", builder_image
    ).splitlines()
    assert user == "0:0"
    assert {"BUILDAH_ISOLATION=chroot", "STORAGE_DRIVER=vfs"} <= set(json.loads(env))
    registry, repository = docker_sandbox.registry, f"acme/shop-{allow}"
    given = {"image": f"{registry}/{repository}", "tags": ["1.0.0"]}
    [(_, job)] = interpolate("build", given).items()
    assert job["image"]["entrypoint"] == [""]
    project = tmp_path / "project"
    project.mkdir()
    steps = ["RUN echo built by $(id -u) > /built.txt", "COPY hello.txt /hello.txt"]
    (project / "Dockerfile").write_text("\n".join([f"FROM {registry_base}", *steps, ""]))
    (project / "hello.txt").write_text("hello from a GitLab job\n")
    revision = uuid.uuid4().hex + "0" * 8
    variables = {
        "CI": "true",
        "GITLAB_CI": "true",
        "CI_PROJECT_DIR": "/builds/acme/shop",
        "CI_PROJECT_PATH": "acme/shop",
        "CI_PROJECT_URL": "https://gitlab.example.com/acme/shop",
        "CI_PIPELINE_SOURCE": "push",
        "CI_COMMIT_BRANCH": "main",
        "CI_DEFAULT_BRANCH": "main",
        "CI_COMMIT_SHA": revision,
        **{key: str(value) for key, value in job["variables"].items()},
    }
    options = [arg for key, value in variables.items() for arg in ("-e", f"{key}={value}")]
    proc = docker_run(
        docker_sandbox,
        "run", "--rm", "--network", "host", *RUNNER_ALLOWS[allow], *options,
        "-v", f"{project}:/builds/acme/shop", "-w", "/builds/acme/shop",
        "--entrypoint", "sh", builder_image, "-c", "\n".join(job["script"]),
        timeout=600,
    )  # fmt: skip
    if allow == "nothing":
        said = proc.stdout + proc.stderr  # GitLab's job log: both streams
        assert proc.returncode == 1, said
        assert "unshare(CLONE_NEWUSER): Operation not permitted" in said, said
        return
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    outputs = dotenv(project / "gitops.env")
    digest = served_digest(registry, repository, "1.0.0")
    assert outputs["GITOPS_OUT_DIGEST"] == digest
    assert outputs["GITOPS_OUT_BUILDER"] == "buildah"
    assert outputs["GITOPS_OUT_REF"] == f"{registry}/{repository}:1.0.0@{digest}"
    files = layer_files(registry, repository, digest)
    assert files["built.txt"] == b"built by 0\n"  # RUN, in buildah's chroot
    assert files["hello.txt"] == b"hello from a GitLab job\n"
    labels = image_config(registry, repository, digest)["config"]["Labels"]
    assert labels["org.opencontainers.image.revision"] == revision
    assert labels["org.opencontainers.image.source"] == "https://gitlab.example.com/acme/shop"
