"""diff end to end: real git worktrees and real kubectl kustomize."""

from __future__ import annotations

import base64
import json
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from gitops_actions import git

from support import base_env, need, run_cli

pytestmark = pytest.mark.component
SECRET = "pa55-w0rd-plaintext"
PROD = "argocd/shop-prod.yaml#argocd/shop-prod"  # the Argo CD app applying overlays/prod


@pytest.fixture
def config(tmp_path: Path) -> git.Repo:
    if shutil.which("kubectl") is None:
        need("kubectl (with kustomize) is not installed")
    with resources.as_file(resources.files("gitops_actions") / "examples" / "config") as src:
        shutil.copytree(src, tmp_path / "config")
    repo = git.init(tmp_path / "config")
    repo.add()
    repo.commit("initial")
    return repo


def commit(repo: git.Repo, message: str) -> str:
    repo.add()
    return repo.commit(message)


def diff(repo: git.Repo, *args: str, **env: str) -> dict[str, Any]:
    out = repo.path.parent / "diff.json"
    proc = run_cli(
        "diff", "--repo", str(repo.path), "--format", f"json={out}", *args, env=base_env(**env)
    )
    assert proc.returncode == 0, proc.stderr
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def test_only_affected_applications_are_rendered(config: git.Repo) -> None:
    overlay = config.path / "apps/shop/overlays/prod/kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("newTag: 1.0.0", "newTag: 1.1.0"))
    head = commit(config, "bump prod")
    report = diff(config)
    assert report["rendered"] == [PROD]
    assert report["head"]["sha"] == head and report["base"]["ref"] == "HEAD~1"
    [app] = report["apps"]
    assert app["name"] == PROD and app["path"] == "apps/shop/overlays/prod"
    [change] = app["changes"]
    assert (change["action"], change["kind"], change["namespace"], change["name"]) == (
        "changed",
        "Deployment",
        "shop-prod",
        "shop",
    )
    assert change["summary"] == [
        "spec.template.spec.containers[shop].image: 127.0.0.1:5000/demo/shop:1.0.0 -> "
        "127.0.0.1:5000/demo/shop:1.1.0"
    ]


def test_a_base_change_renders_every_overlay_and_secrets_stay_hidden(config: git.Repo) -> None:
    base = config.path / "apps/shop/base"
    (base / "secret.yaml").write_text(
        f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: {SECRET}\n"
    )
    kustomization = base / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - secret.yaml\n")
    commit(config, "add a secret")
    report = diff(config)
    assert report["rendered"] == ["apps/shop/overlays/dev", "apps/shop/overlays/staging", PROD]
    actions = {(a["name"], c["action"], c["kind"]) for a in report["apps"] for c in a["changes"]}
    assert ("apps/shop/overlays/dev", "added", "Secret") in actions
    (base / "secret.yaml").write_text((base / "secret.yaml").read_text().replace(SECRET, "x" * 9))
    commit(config, "rotate")
    text = json.dumps(diff(config))
    assert SECRET not in text and "x" * 9 not in text
    assert "stringData.password: <redacted, changed, 9 bytes>" in text
    # end to end: the markdown diff and the comment posted from the JSON leak nothing either
    markdown = run_cli("diff", "--repo", str(config.path), "--format", "markdown")
    forge = config.path.parent / "forge"
    posted = run_cli(
        "comment",
        "--forge",
        "local",
        "--forge-dir",
        str(forge),
        "--pr",
        "7",
        "--project",
        "config",
        "--from",
        str(config.path.parent / "diff.json"),
    )
    assert markdown.returncode == posted.returncode == 0, markdown.stderr + posted.stderr
    outputs = [markdown.stdout, posted.stdout, *(p.read_text() for p in forge.rglob("*.md"))]
    assert len(outputs) == 3 and "<redacted, changed, 9 bytes>" in outputs[2]
    for leaked in (
        SECRET,
        "x" * 9,
        base64.b64encode(SECRET.encode()).decode(),
        base64.b64encode(b"x" * 9).decode(),
    ):
        assert not any(leaked in text for text in outputs)


def test_all_and_added_removed_applications(config: git.Repo) -> None:
    shutil.rmtree(config.path / "apps/shop/overlays/staging")
    extra = config.path / "apps/cart"
    extra.mkdir()
    (extra / "cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cart\ndata:\n  a: '1'\n"
    )
    commit(config, "reshape")
    report = diff(config, "--all")
    assert PROD in report["rendered"]  # unchanged, still rendered
    by_app = {a["name"]: [(c["action"], c["kind"]) for c in a["changes"]] for a in report["apps"]}
    assert by_app["apps/shop/overlays/staging"] == [
        ("removed", "Service"),
        ("removed", "Deployment"),
    ]
    assert by_app["apps/cart"] == [("added", "ConfigMap")]
    assert PROD not in by_app


def test_base_from_the_pull_request_target(config: git.Repo) -> None:
    config.git("branch", "-M", "main")
    config.git("update-ref", "refs/remotes/origin/main", "HEAD")
    config.git("checkout", "--quiet", "-b", "feature")
    values = config.path / "apps/shop/overlays/dev/kustomization.yaml"
    values.write_text(values.read_text().replace("count: 1", "count: 2"))
    commit(config, "scale dev")
    values.write_text(values.read_text().replace("count: 2", "count: 4"))
    commit(config, "scale dev more")
    report = diff(config, GITHUB_BASE_REF="main")
    assert report["base"]["ref"] == "origin/main"
    [change] = report["apps"][0]["changes"]
    assert change["summary"] == ["spec.replicas: 1 -> 4"]


def test_unknown_ref_is_a_usage_error(config: git.Repo) -> None:
    proc = run_cli("diff", "--repo", str(config.path), "--base", "nope")
    assert proc.returncode == 2
    assert "nope: no such commit" in proc.stderr


def test_other_kustomizations_and_charts_use_the_shared_renderer(config: git.Repo) -> None:
    overlay = config.path / "apps/shop/overlays/dev/kustomization.yaml"
    overlay.write_text(overlay.read_text() + "commonLabels:\n  team: shop\n")
    chart = config.path / "charts/web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "templates/cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"
    )
    commit(config, "labels and a chart")
    report = diff(config, PATH="/usr/local/bin:/usr/bin:/bin")
    assert report["renderers"]["kustomize"] == 1  # the head: commonLabels is not in the subset
    assert report["renderers"]["in-process"] == 1  # the base: still a plain overlay
    assert report["skipped"] == [
        "charts/web: helm is not installed, so the chart was not rendered"
    ] or shutil.which("helm")
    [app] = [a for a in report["apps"] if a["name"] == "apps/shop/overlays/dev"]
    assert {c["summary"][0] for c in app["changes"]} >= {"metadata.labels.team: added"}


def test_hidden_directories_are_skipped_as_validate_skips_them(config: git.Repo) -> None:
    (config.path / ".vscode").mkdir()
    (config.path / ".vscode" / "settings.json").write_text(
        '{\n  // editor settings, JSON with comments\n  "yaml.schemas": {},\n}\n'
    )
    commit(config, "editor settings")
    report = diff(config, "--all")
    assert not any(name.startswith(".vscode") for name in report["rendered"])
    assert PROD in report["rendered"]


@pytest.mark.parametrize("fmt", ["json", "markdown"])
def test_a_document_on_stdout_is_the_only_thing_there(config: git.Repo, fmt: str) -> None:
    overlay = config.path / "apps/shop/overlays/prod/kustomization.yaml"
    overlay.write_text(overlay.read_text().replace("newTag: 1.0.0", "newTag: 1.1.0"))
    commit(config, "bump prod")
    for env in (base_env(), base_env(GITHUB_ACTIONS="true")):
        proc = run_cli("diff", "--repo", str(config.path), "--format", fmt, env=env)
        assert proc.returncode == 0, proc.stderr
        if fmt == "json":
            assert [a["name"] for a in json.loads(proc.stdout)["apps"]] == [PROD]
        else:
            assert proc.stdout.startswith("### GitOps diff")
        for noise in ("== diff", "::group::", "::endgroup::", "output changed=", "change(s) in"):
            assert noise not in proc.stdout
        assert "changed" in proc.stderr  # the outputs and the summary line went to stderr


def test_help_states_the_default_format() -> None:
    proc = run_cli("diff", "--help")
    text = " ".join(proc.stdout.split())
    assert "default: markdown to stdout" in text and "default: json" not in text


def test_yaml_1_1_value_scalar_from_kustomize_is_a_plain_string(config: git.Repo) -> None:
    base = config.path / "apps/shop/base"
    (base / "route.yaml").write_text(
        "apiVersion: example.com/v1\nkind: Route\nmetadata:\n  name: r\n"
        "spec:\n  matchType: =\n  port: 80\n"
    )
    kustomization = base / "kustomization.yaml"
    # a field outside the in-process subset: kubectl kustomize renders it
    kustomization.write_text(kustomization.read_text() + "  - route.yaml\ncommonLabels: {a: b}\n")
    commit(config, "a route")
    report = diff(config)
    changes = [c for app in report["apps"] for c in app["changes"] if c["kind"] == "Route"]
    assert changes and all(c["action"] == "added" for c in changes)
    assert "matchType: '='" in changes[0]["diff"]


def test_which_renderer_ran_never_shows_as_a_change(config: git.Repo) -> None:
    """The base renders in-process, the head with kubectl kustomize: YAML 1.1-sensitive
    scalars (and a date) read the same either way, so nothing changed."""
    base = config.path / "apps/shop/base"
    values = "\n".join(
        f"    v{i}: {text}"
        for i, text in enumerate(("1:20", "1:25", "on", "y", "1e3", "0o644", "0755"))
    )
    (base / "release.yaml").write_text(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: r\n"
        "spec:\n  chart:\n    spec: {chart: app, version: 1.0.0}\n  values:\n"
        f"{values}\n    when: 2024-05-01\n    nothing: ~\n    count: 1_000\n    match: =\n"
    )
    kustomization = base / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - release.yaml\n")
    commit(config, "a release")
    overlay = config.path / "apps/shop/overlays/dev/kustomization.yaml"
    before = diff(config, "--base", "HEAD~1")
    assert "in-process" in before["renderers"]
    overlay.write_text(overlay.read_text() + "generatorOptions: {disableNameSuffixHash: true}\n")
    commit(config, "outside the in-process subset: kubectl kustomize renders the head")
    report = diff(config)
    assert report["rendered"] == ["apps/shop/overlays/dev"]
    assert set(report["renderers"]) == {"in-process", "kustomize"}
    assert report["apps"] == []


def test_renders_in_worker_processes_give_what_one_process_gives(config: git.Repo) -> None:
    for n in range(24):  # enough applications for the process pool
        folder = config.path / "fleet" / f"app{n:02d}"
        folder.mkdir(parents=True)
        (folder / "cm.yaml").write_text(
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app{n}\ndata:\n  when: on\n"
        )
        (folder / "kustomization.yaml").write_text(f"resources: [cm.yaml]\nnamespace: ns{n}\n")
    commit(config, "a fleet")
    for n in range(0, 24, 5):
        cm = config.path / "fleet" / f"app{n:02d}" / "cm.yaml"
        cm.write_text(cm.read_text().replace("when: on", "when: off"))
    commit(config, "switch some off")
    one = diff(config, "--all", "--workers", "1")
    many = diff(config, "--all", "--workers", "3")
    assert one == many
    changed = [a["name"] for a in many["apps"]]
    assert changed == [f"fleet/app{n:02d}" for n in range(0, 24, 5)]
    assert len(many["rendered"]) >= 24
