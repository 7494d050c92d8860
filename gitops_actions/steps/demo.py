"""demo: the whole pipeline on bundled example repos, with local stand-ins.

Stand-ins: bare git remotes for the app and config repos, a throwaway Docker engine and
registry (when this machine can start them), a local forge that writes PR comments and
deployment records to files, and a local Argo CD (``gitops_actions.demo``) that applies
the config repo's new commit a moment after handoff asks. Each step runs for real.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from gitops_actions import git
from gitops_actions.sandbox import DockerSandbox, Unavailable
from gitops_actions.step import Context, Step, StepResult, option

EXAMPLE_REGISTRY = "127.0.0.1:5000"  # what the example files say; replaced by the real one
APP_IMAGE = "demo/shop"
HANDOFF_DELAY = 2.0  # seconds the stand-in Argo CD takes to apply a commit


@dataclass(frozen=True)
class Options:
    workdir: str | None = option(
        "where to put the demo's repos and logs (default: a new temporary directory, kept)",
        metavar="DIR",
    )
    docker: bool = option(
        "start a throwaway Docker engine and registry to build the app", default=True
    )
    tag: str = option("tag for the demo image", default="1.1.0")


def _copy_example(name: str, dest: Path, registry: str) -> None:
    """Copy a bundled example tree, pointing its image references at ``registry``."""
    source = resources.files("gitops_actions") / "examples" / name
    with resources.as_file(source) as src:
        shutil.copytree(src, dest)
    for path in dest.rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if EXAMPLE_REGISTRY in text:
                path.write_text(text.replace(EXAMPLE_REGISTRY, registry), encoding="utf-8")


def _publish(tree: Path, remote: Path, message: str) -> str:
    """Make ``tree`` a git repo with one commit and push it to a new bare ``remote``."""
    git.init(remote, bare=True)
    repo = git.init(tree)
    repo.add()
    sha = repo.commit(message)
    repo.git("remote", "add", "origin", str(remote))
    repo.push("origin", "main")
    return sha


def run(opts: Options, ctx: Context) -> StepResult:
    from gitops_actions.steps import build

    work = Path(opts.workdir or tempfile.mkdtemp(prefix="gitops-demo-")).resolve()
    if work.exists() and any(work.iterdir()):
        from gitops_actions.errors import UsageError

        raise UsageError(f"--workdir {work}: not empty; give a new or empty directory")
    work.mkdir(parents=True, exist_ok=True)
    log = ctx.ci.log
    outputs: dict[str, str] = {"workdir": str(work)}
    lines = [f"# gitops-actions demo\n\nWork directory: `{work}`\n"]

    reason = None if opts.docker else "disabled by --no-docker"
    reason = reason or DockerSandbox.why_not()
    sandbox = DockerSandbox(work / "docker") if reason is None else None
    registry = sandbox.registry if sandbox else EXAMPLE_REGISTRY

    with ctx.ci.group("set up: example repos and bare git remotes"):
        app_sha = _publish_example("app", work, registry, "shop: initial import")
        config_sha = _publish_example("config", work, registry, "config: initial import")
        (work / "forge" / "comments").mkdir(parents=True)
        log(
            f"app repo     {work / 'app'} -> remote {work / 'remotes' / 'app.git'} ({app_sha[:12]})"
        )
        log(
            f"config repo  {work / 'config'} -> remote {work / 'remotes' / 'config.git'} "
            f"({config_sha[:12]})"
        )
        log(f"local forge  comments are written to {work / 'forge' / 'comments'}")
    outputs["config-remote"] = str(work / "remotes" / "config.git")

    try:
        if sandbox is not None:
            with ctx.ci.group("set up: throwaway Docker engine and registry"):
                try:
                    sandbox.start()
                    log(f"engine {sandbox.docker_host}, registry {sandbox.registry}")
                except Unavailable as err:
                    reason, sandbox = str(err), None
        if sandbox is None:
            log(f"build: skipped ({reason})")
            lines.append(f"- **build**: skipped ({reason})")
        else:
            built = build.run(
                build.Options(
                    image=f"{sandbox.registry}/{APP_IMAGE}",
                    context=str(work / "app"),
                    tags=(opts.tag,),
                    docker_host=sandbox.docker_host,
                ),
                ctx,
            )
            log(f"build: {built.message}")
            outputs["image-ref"] = built.outputs["ref"]
            lines.append(f"- **build**: {built.message}")
    finally:
        if sandbox is not None:
            sandbox.stop()

    image = outputs.get("image-ref") or f"{registry}/{APP_IMAGE}:{opts.tag}"
    outputs["image-ref"] = image
    for line in _deliver(work, image, ctx):
        lines.append(f"- {line}")
    lines.append(f"- {_handoff(work, ctx)}")
    log(f"Look around: {work}")
    return StepResult("changed", "demo finished", outputs, "\n".join(lines) + "\n")


def _deliver(work: Path, image: str, ctx: Context) -> list[str]:
    """bump dev to the new image, promote dev to prod through a pull request, and return
    one line per step for the summary."""
    from gitops_actions.steps import bump, promote

    remote = str(work / "remotes" / "config.git")
    forge = str(work / "forge")
    result = bump.run(
        bump.Options(repo=remote, image=(image,), files=("apps/shop/overlays/dev/*",)), ctx
    )
    done = [_told(ctx, "**bump** dev", result)]
    result = promote.run(
        promote.Options(
            repo=remote,
            image=image.split("@")[0].rsplit(":", 1)[0],
            source="dev",
            to="prod",
            forge="local",
            forge_dir=forge,
        ),
        ctx,
    )
    done.append(_told(ctx, "**promote** dev to prod", result))
    review = _review(work, ctx, result.outputs.get("branch", ""))
    for line in review:
        ctx.ci.log(line.replace("**", ""))
    ctx.ci.log(f"pull requests: {work / 'forge' / 'pulls'}")
    return done + review


def _told(ctx: Context, label: str, result: StepResult) -> str:
    """Say what a delivery step did (its message, files and references) right after its
    section; the summary line for it."""
    line = f"{label}: {result.message}"
    ctx.ci.log(line.replace("**", ""))
    out = result.outputs
    for old, new in zip(
        out.get("old-ref", "").splitlines(), out.get("new-ref", "").splitlines(), strict=False
    ):
        ctx.ci.log(f"  {old} -> {new}")
    for path in out.get("files", "").splitlines():
        ctx.ci.log(f"  changed {path}")
    if out.get("pull-request-url"):
        ctx.ci.log(f"  pull request {out['pull-request-url']} (branch {out.get('branch', '')})")
    return line


def _handoff(work: Path, ctx: Context) -> str:
    """Hand dev's new commit off to a local stand-in Argo CD that applies it a moment
    later; wait for it, and show the deployment record the local forge keeps."""
    import secrets

    from gitops_actions.demo.argocd import StandInArgoCD
    from gitops_actions.steps import handoff

    remote = work / "remotes" / "config.git"
    revision = git.Repo(remote).head_sha("main")
    before = git.Repo(remote).head_sha("main~1")  # what ran before bump
    token = secrets.token_hex(16)
    standin = StandInArgoCD(remote, ["shop-dev"], token, delay=HANDOFF_DELAY, applied=before)
    with standin as agent:
        ctx.ci.log(
            f"stand-in Argo CD at {agent.url}: "
            f"applies a new commit {HANDOFF_DELAY:g}s after a refresh"
        )
        env = {**ctx.env, "ARGOCD_SERVER": agent.url, "ARGOCD_AUTH_TOKEN": token}
        options = handoff.Options(
            agent="argocd",
            app=("shop-dev",),
            revision=revision,
            repo=str(remote),
            report="local",
            forge_dir=str(work / "forge"),
            project="config",
            timeout=60,
        )
        result = handoff.run(options, Context(ci=ctx.ci, env=env))
    ctx.ci.log(f"handoff: {result.message}")
    for record in sorted((work / "forge" / "deployments").glob("*.json")):
        ctx.ci.log(f"deployment record {record}:")
        for line in record.read_text(encoding="utf-8").splitlines():
            ctx.ci.log(f"  {line}")
    return f"**handoff** dev to the stand-in Argo CD: {result.message}"


def _review(work: Path, ctx: Context, branch: str) -> list[str]:
    """Diff the promotion's pull request offline and post it as a sticky comment."""
    from gitops_actions.steps import comment, diff, validate

    if not branch:
        return []
    review = git.clone(str(work / "remotes" / "config.git"), work / "review")
    review.git("fetch", "--quiet", "origin", f"{branch}:{branch}")
    review.git("checkout", "--quiet", branch)
    checked = validate.run(
        validate.Options(
            paths=tuple(str(review.path / p) for p in ("apps/shop", "argocd", "clusters"))
        ),
        ctx,
    )
    review.git("checkout", "--quiet", "main")
    report = work / "forge" / "diff-1.json"
    result = diff.run(
        diff.Options(
            repo=str(review.path), base="origin/main", head=branch, format=(f"json={report}",)
        ),
        ctx,
    )
    done = [
        f"**validate** pull request 1: {checked.message}",
        f"**diff** of pull request 1: {result.message}",
    ]
    result = comment.run(
        comment.Options(
            source=str(report), forge="local", pr=1, project="config", forge_dir=str(work / "forge")
        ),
        ctx,
    )
    done.append(f"**comment** on pull request 1: {result.message}")
    return done


def _publish_example(name: str, work: Path, registry: str, message: str) -> str:
    tree = work / name
    _copy_example(name, tree, registry)
    return _publish(tree, work / "remotes" / f"{name}.git", message)


STEP = Step(
    name="demo",
    summary="Run the whole pipeline on bundled example repos with local stand-ins.",
    examples=(
        "gitops-actions demo",
        "gitops-actions demo --workdir /tmp/demo --no-docker",
    ),
    options=Options,
    run=run,
    outputs=(
        ("workdir", "the demo's work directory"),
        ("config-remote", "the bare git remote of the example config repo"),
        ("image-ref", "the image the demo built and pushed"),
    ),
)
