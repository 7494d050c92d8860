"""Pull and merge requests from forks, end to end: a real ``serve`` process fetches the head
from the base repository's pull request ref (the fork itself is private), renders it with
no secret in the renders' environment, and kustomize exec plugins stay off."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import servebot
from fakes.github_api import GitHubApi
from fakes.gitlab_api import GitLabApi
from servebot import TOKEN, Bot, ConfigRepo, finished, github_pull

SECRETS = {
    "REGISTRY_PASSWORD": "registry-pw-" + "3c" * 8,
    "DOCKER_AUTH_CONFIG": '{"auths": {"r.example": {"auth": "' + "4d" * 8 + '"}}}',
    "AWS_SECRET_ACCESS_KEY": "aws-" + "5f" * 12,
    "HELM_REPOSITORY_PASSWORD": "helm-" + "6a" * 8,
}
SHOP = {
    "apps/shop/kustomization.yaml": "resources: [deployment.yaml]\ncommonLabels: {team: shop}\n",
    "apps/shop/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: shop, namespace: shop}\n"
        "spec:\n  replicas: REPLICAS\n  selector: {matchLabels: {app: shop}}\n"
        "  template:\n    metadata: {labels: {app: shop}}\n"
        "    spec: {containers: [{name: shop, image: r.example/shop:1.0.0}]}\n"
    ),
}
EVIL = {
    "apps/evil/kustomization.yaml": "resources: [cm.yaml]\ntransformers: [fn.yaml]\n",
    "apps/evil/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: '1'}\n",
    "apps/evil/fn.yaml": (
        "apiVersion: example.com/v1\nkind: Evil\nmetadata:\n  name: evil\n  annotations:\n"
        "    config.kubernetes.io/function: |\n      exec:\n        path: ./pwn.sh\n"
    ),
}


def kustomize_standin(bin_dir: Path, record: Path) -> None:
    """A ``kustomize`` first on PATH that records its environment and arguments, then builds
    with ``kubectl kustomize`` (the real thing decides what it renders and refuses)."""
    bin_dir.mkdir()
    record.mkdir()
    script = bin_dir / "kustomize"
    script.write_text(
        "#!/bin/sh\n"
        f'env -0 > "{record}/$$.env"\n'
        f'printf "%s\\n" "$@" > "{record}/$$.args"\n'
        '[ "$1" = build ] && shift\n'
        'exec kubectl kustomize "$@"\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def commit(repo: ConfigRepo, ref: str, files: dict[str, str], message: str) -> str:
    """Commit ``files`` on top of main and push the commit to ``ref`` of the base repo."""
    repo.work.git("checkout", "-q", "-B", "fork-work", "main")
    for rel, text in files.items():
        path = repo.work.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    repo.work.add()
    head = repo.work.commit(message)
    repo.work.push(repo.bare, f"+fork-work:{ref}")
    repo.work.git("checkout", "-q", "main")
    return head


def test_fork_pull_requests_render_without_secrets_or_exec_plugins(
    github: tuple[GitHubApi, ConfigRepo], tmp_path: Path
) -> None:
    api, repo = github
    shop = {k: v.replace("REPLICAS", "1") for k, v in SHOP.items()}
    commit(repo, "refs/heads/main", shop, "shop")
    repo.work.git("pull", "-q", repo.bare, "main")
    changed = {k: v.replace("REPLICAS", "3") for k, v in SHOP.items() if "deploy" in k}
    head = commit(repo, "refs/pull/1/head", changed, "shop: 3 replicas")
    marker = tmp_path / "pwned"
    pwn = {**EVIL, "apps/evil/pwn.sh": f"#!/bin/sh\ntouch {marker}\ncat\n"}
    evil_head = commit(repo, "refs/pull/2/head", pwn, "a transformer")
    for number in (1, 2):
        assert api.add_pull("acme/config", f"fork-{number}") == number
    bin_dir, record = tmp_path / "bin", tmp_path / "renders"
    kustomize_standin(bin_dir, record)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", **SECRETS}
    bot = Bot("github", tmp_path / "state", forge_url=api.url, token=TOKEN, env=env)
    fork_url = repo.server.repo_url("mallory/config.git")  # private: not fetchable
    try:
        for number, sha in ((1, head), (2, evil_head)):
            payload = github_pull(
                "acme/config", number, sha, action="opened", head_ref="main",
                clone_url=repo.url, head_repo="mallory/config", head_url=fork_url,
            )  # fmt: skip
            assert bot.post("pull_request", payload).json()["verdict"] == "queued"
        finished(bot, "github:acme/config#1", head)
        finished(bot, "github:acme/config#2", evil_head, outcome="failure")
    finally:
        bot.stop()

    body = api.comments_on("acme/config", 1)[0]["body"]
    assert "apps/shop" in body and "replicas" in body
    assert [s["state"] for s in api.statuses if s["sha"] == head] == ["success"]

    evil = api.comments_on("acme/config", 2)[0]["body"]
    assert "external plugins disabled" in evil
    assert [s["state"] for s in api.statuses if s["sha"] == evil_head] == ["failure"]
    assert not marker.exists(), "a kustomize exec plugin ran"

    envs = [dict(line.split("=", 1) for line in p.read_text().split("\0") if "=" in line)
            for p in record.glob("*.env")]  # fmt: skip
    args = [p.read_text().split() for p in record.glob("*.args")]
    assert len(envs) >= 3, "kustomize rendered the shop at both refs and the transformer"
    hidden = [TOKEN, *SECRETS.values()]
    for seen in envs:
        assert not {"GITHUB_TOKEN", "GH_TOKEN", "GITOPS_WEBHOOK_SECRET", *SECRETS} & set(seen)
        assert not [k for k in seen if k.startswith(("GIT_CONFIG", "GITOPS_"))]
        assert not [v for v in seen.values() for s in hidden if s in v]
        assert Path(seen["HOME"]).is_relative_to(tmp_path / "state")
    for argv in args:
        assert not {"--enable-alpha-plugins", "--enable-exec"} & set(argv)
        assert not [a for a in argv for s in hidden if s in a]


def test_gitlab_merge_request_from_a_private_fork(tmp_path: Path) -> None:
    token = "glpat-" + secrets.token_hex(10)
    with servebot.git_server(tmp_path / "git", "oauth2", token) as server, GitLabApi(token) as api:
        repo = ConfigRepo(server, tmp_path / "work")
        api.add_project("acme/config")
        iid = api.add_mr("acme/config", "feature")
        (head,) = repo.fork(f"refs/merge-requests/{iid}/head", {"web": 7})
        fork = ("mallory/config", server.repo_url("mallory/config.git"))  # not fetchable
        bot = Bot("gitlab", tmp_path / "state", forge_url=api.url, token=token)
        try:
            payload = servebot.gitlab_merge_request(
                "acme/config", iid, head, action="open", clone_url=repo.url, source=fork
            )
            assert bot.post("Merge Request Hook", payload).json()["verdict"] == "queued"
            finished(bot, f"gitlab:acme/config#{iid}", head)
        finally:
            bot.stop()
        (note,) = api.notes_on("acme/config", iid)
        assert "apps/web" in note["body"] and "replicas" in note["body"]
        assert [(s["status"], s["sha"]) for s in api.statuses] == [("success", head)]
        assert token not in bot.text()
