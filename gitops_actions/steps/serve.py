"""serve: the PR-comment bot, a small web service answering GitHub or GitLab webhooks."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_actions.errors import InputError, UsageError
from gitops_actions.secrets import REDACTOR
from gitops_actions.step import Context, Step, StepResult, option

SECRET_ENV = "GITOPS_WEBHOOK_SECRET"
TOKEN_ENV = {"github": ("GITHUB_TOKEN", "GH_TOKEN"), "gitlab": ("GITLAB_TOKEN",)}
# Never handed on to git, kustomize or helm: the process environment loses them at start.
SCRUBBED = (SECRET_ENV, "GITOPS_QUEUE", "GITHUB_TOKEN", "GH_TOKEN", "GITLAB_TOKEN", "CI_JOB_TOKEN")


@dataclass(frozen=True)
class Options:
    forge: str = option(
        "which forge sends the webhooks (required: no default)",
        default="",
        required=True,
        choices=("github", "gitlab"),
    )
    allow: tuple[str, ...] = option(
        "repositories to serve, as globs on owner/name (repeatable); others get 403",
        default=(),
        required=True,
        metavar="GLOB",
    )
    listen: str = option("address to listen on", default="127.0.0.1:8080", metavar="HOST:PORT")
    forge_url: str | None = option(
        "forge API URL (default: https://api.github.com or https://gitlab.com)", metavar="URL"
    )
    webhook_secret_file: str | None = option(
        f"file holding the webhook secret (default: the {SECRET_ENV} variable)", metavar="FILE"
    )
    token_file: str | None = option(
        "file holding the forge API token (default: GITHUB_TOKEN or GH_TOKEN, GITLAB_TOKEN)",
        metavar="FILE",
    )
    state: str = option(
        "directory for the SQLite state and the repository mirrors",
        default=".gitops-serve",
        metavar="DIR",
    )
    queue: str = option(
        "sqlite (one replica), or redis://HOST:PORT/DB to share jobs and leases between "
        "replicas (a password belongs in GITOPS_QUEUE, not on the command line)",
        default="sqlite",
        metavar="URL",
        secret=True,
    )
    workers: int = option("runs in parallel (different pull requests)", default=2, metavar="N")
    max_queue: int = option(
        "most pull requests waiting; beyond it deliveries get 503", default=1000, metavar="N"
    )
    lease_ttl: float = option(
        "seconds a run's lease lasts unless renewed; another replica takes over after it",
        default=30.0,
        metavar="SECONDS",
    )
    drain_timeout: float = option(
        "seconds SIGTERM waits for runs in flight before exiting", default=30.0, metavar="SECONDS"
    )
    target: str = option("name of the sticky comment (its hidden marker)", default="serve")


def _secret(path: str | None, env: Mapping[str, str], names: tuple[str, ...], what: str) -> str:
    if path:
        try:
            value = Path(path).read_text(encoding="utf-8").strip()
        except OSError as err:
            raise InputError(f"cannot read the {what}: {err.strerror}", path=path) from None
        except UnicodeDecodeError:
            raise InputError(f"the {what} file is not UTF-8 text", path=path) from None
        if not value:
            raise InputError(f"the {what} file is empty", path=path)
        REDACTOR.learn(value)
        return value
    for name in names:
        value = env.get(name, "").strip()
        if value:
            REDACTOR.learn(value)
            return value
    raise UsageError(f"no {what}", hint=f"set {' or '.join(names)} or pass its file")


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UsageError(f"--listen {text!r}: expected HOST:PORT")
    return host.strip("[]") or "0.0.0.0", int(port)


def run(opts: Options, ctx: Context) -> StepResult:
    from gitops_actions.serve.app import Settings, main
    from gitops_actions.serve.intake import Intake
    from gitops_actions.serve.run import RunConfig
    from gitops_actions.serve.telemetry import Log

    host, port = _listen(opts.listen)
    for name, value in (("workers", opts.workers), ("max-queue", opts.max_queue)):
        if value < 1:
            raise UsageError(f"--{name} {value}: give at least 1")
    if opts.lease_ttl < 1 or opts.drain_timeout < 0:
        raise UsageError("--lease-ttl must be 1 or more seconds, --drain-timeout 0 or more")
    secret = _secret(opts.webhook_secret_file, ctx.env, (SECRET_ENV,), "webhook secret")
    token = _secret(opts.token_file, ctx.env, TOKEN_ENV[opts.forge], f"{opts.forge} API token")
    for name in SCRUBBED:
        os.environ.pop(name, None)
    env = {k: v for k, v in ctx.env.items() if k not in SCRUBBED and not k.startswith("GITOPS_")}
    settings = Settings(
        host=host,
        port=port,
        intake=Intake(opts.forge, secret.encode(), opts.allow, opts.max_queue),
        run=RunConfig(
            forge=opts.forge,
            forge_url=opts.forge_url,
            token=token,
            state=Path(opts.state),
            env=env,
            target=opts.target,
        ),
        queue=opts.queue,
        workers=opts.workers,
        lease_ttl=opts.lease_ttl,
        drain_timeout=opts.drain_timeout,
    )
    left = main(settings, Log())
    message = f"stopped; {left} run(s) cut off by the drain timeout" if left else "stopped"
    return StepResult("unchanged", message)


STEP = Step(
    name="serve",
    summary="Run the PR-comment bot as a small web service.",
    examples=(
        "gitops-actions serve --forge github --allow 'acme/*' --listen 0.0.0.0:8080",
        "gitops-actions serve --forge gitlab --allow 'platform/config-*' "
        "--forge-url https://gitlab.example.com --queue redis://redis:6379/0",
    ),
    options=Options,
    run=run,
)
