"""diff through the application model, on a Flux repo in the apps/<ns>/<app>/ks.yaml layout
(components, postBuild substitutions) and an Argo CD app-of-apps: a change shows under
every entry point it changes, substituted and in the namespace the agent sets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gitops_actions import git

from support import base_env, helm_charts_tree, need, run_cli, write_tree

DATA = Path(__file__).resolve().parent.parent / "data" / "apps"
APPS = "kubernetes/apps"


def ks(app: str) -> str:
    return f"{APPS}/{app}/ks.yaml#flux-system/{app.rpartition('/')[2]}"


@pytest.fixture
def repo(tmp_path: Path, request: pytest.FixtureRequest) -> git.Repo:
    if shutil.which("kubectl") is None:
        need("kubectl (with kustomize) is not installed")
    shutil.copytree(DATA / request.param, tmp_path / "config")
    repo = git.init(tmp_path / "config")
    repo.add()
    repo.commit("initial")
    return repo


def change(repo: git.Repo, path: str, old: str, new: str) -> None:
    file = repo.path / path
    text = file.read_text()
    assert old in text, f"{old!r} not in {path}"
    file.write_text(text.replace(old, new))


def diff(repo: git.Repo, *args: str) -> dict[str, Any]:
    repo.add()
    repo.commit("change")
    out = repo.path.parent / "diff.json"
    proc = run_cli(
        "diff", "--repo", str(repo.path), "--format", f"json={out}", *args, env=base_env()
    )
    assert proc.returncode == 0, proc.stderr
    loaded: dict[str, Any] = json.loads(out.read_text())
    return loaded


def summaries(report: dict[str, Any]) -> dict[str, list[str]]:
    return {
        app["name"]: [
            f"{c['action']} {c['kind']} {c['namespace']}/{c['name']}: {'; '.join(c['summary'])}"
            for c in app["changes"]
        ]
        for app in report["apps"]
    }


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_an_image_bump_shows_under_its_app_in_its_namespace(repo: git.Repo) -> None:
    path = f"{APPS}/media/sonarr/app/deployment.yaml"
    change(repo, path, "sonarr:4.0.0", "sonarr:4.0.1")
    report = diff(repo)
    assert report["rendered"] == [ks("media/sonarr")]
    assert summaries(report) == {
        ks("media/sonarr"): [
            "changed Deployment media/sonarr: spec.template.spec.containers[app].image: "
            "ghcr.io/home-operations/sonarr:4.0.0 -> ghcr.io/home-operations/sonarr:4.0.1"
        ]
    }


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_a_component_edit_shows_in_every_app_using_it_substituted(repo: git.Repo) -> None:
    change(repo, "kubernetes/components/volsync/pvc.yaml", "ReadWriteOnce", "ReadWriteMany")
    report = diff(repo)
    found = summaries(report)
    assert sorted(found) == [ks("default/echo"), ks("media/jellyfin"), ks("media/sonarr")]
    for name, lines in found.items():
        app = name.split("/")[3]
        namespace = name.split("/")[2]
        assert lines == [
            f"changed PersistentVolumeClaim {namespace}/{app}: "
            "spec.accessModes[0]: ReadWriteOnce -> ReadWriteMany"
        ]


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_a_substitution_value_change(repo: git.Repo) -> None:
    change(
        repo, f"{APPS}/media/jellyfin/ks.yaml", "VOLSYNC_CAPACITY: 10Gi", "VOLSYNC_CAPACITY: 20Gi"
    )
    change(repo, "kubernetes/flux/vars/cluster-settings.yaml", "Europe/Paris", "Europe/Berlin")
    found = summaries(diff(repo))
    assert found[ks("media/jellyfin")] == [
        "changed PersistentVolumeClaim media/jellyfin: spec.resources.requests.storage: "
        "10Gi -> 20Gi",
        "changed Deployment media/jellyfin: spec.template.spec.containers[app].env[TZ].value: "
        "Europe/Paris -> Europe/Berlin",
    ]
    assert found[ks("default/echo")] == [
        "changed Deployment default/echo: spec.template.spec.containers[app].env[TZ].value: "
        "Europe/Paris -> Europe/Berlin"
    ]


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_substitutions_moved_to_another_file_show_in_every_app(repo: git.Repo) -> None:
    """The ConfigMap substitutions come from moves to a file that holds other ConfigMaps
    too, its name written with an escape: every app using it still sees the new value."""
    settings = repo.path / "kubernetes/flux/vars/cluster-settings.yaml"
    text = settings.read_text()
    settings.unlink()
    (repo.path / "kubernetes/flux/vars/all.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: flux-system\n"
        "data:\n  TIMEZONE: UTC\n---\n"
        + text.replace("name: cluster-settings", 'name: "cluster\\x2dsettings"').replace(
            "Europe/Paris", "Europe/Berlin"
        )
    )
    found = summaries(diff(repo))
    tz = "spec.template.spec.containers[app].env[TZ].value: Europe/Paris -> Europe/Berlin"
    for app, namespace in (("media/jellyfin", "media"), ("default/echo", "default")):
        name = app.rpartition("/")[2]
        assert f"changed Deployment {namespace}/{name}: {tz}" in found[ks(app)]


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_an_app_added_removed_and_renamed(repo: git.Repo) -> None:
    media = repo.path / APPS / "media"
    shutil.copytree(media / "sonarr", media / "radarr")
    for file in (media / "radarr").rglob("*.yaml"):
        file.write_text(file.read_text().replace("sonarr", "radarr"))
    shutil.rmtree(repo.path / APPS / "default/echo")
    change(repo, f"{APPS}/default/kustomization.yaml", "  - ./echo/ks.yaml\n", "")
    change(
        repo,
        f"{APPS}/media/kustomization.yaml",
        "sonarr/ks.yaml\n",
        "sonarr/ks.yaml\n  - ./radarr/ks.yaml\n",
    )
    change(repo, f"{APPS}/media/jellyfin/ks.yaml", "name: &app jellyfin", "name: &app jelly")
    found = summaries(diff(repo))
    radarr = found[ks("media/radarr")]
    assert "added PersistentVolumeClaim media/radarr: " in radarr
    assert "added Deployment media/radarr: " in radarr
    assert "removed Deployment default/echo: " in found[ks("default/echo")]
    renamed = f"{APPS}/media/jellyfin/ks.yaml#flux-system/jelly"
    assert "removed Deployment media/jellyfin: " in found[ks("media/jellyfin")]
    # the same resources under the new name, but the component's names come from ${APP}
    assert "added PersistentVolumeClaim media/jelly: " in found[renamed]
    assert "added Deployment media/jellyfin: " in found[renamed]


@pytest.mark.parametrize("repo", ["argocd"], indirect=True)
def test_argocd_apps_and_a_chart_from_elsewhere(repo: git.Repo) -> None:
    url = "https://github.com/example/argo-config"
    change(repo, "extras/monitoring/dashboards.yaml", 'home.json: "{}"', 'home.json: "[]"')
    change(repo, "apps/web/deployment.yaml", "nginx:1.27", "nginx:1.28")
    report = diff(repo, "--repo-url", url)
    found = summaries(report)
    assert found["argocd/appset.yaml#web"] == [
        "changed Deployment web/web: spec.template.spec.containers[web].image: "
        "nginx:1.27 -> nginx:1.28"
    ]
    assert found["argocd/monitoring.yaml#argocd/monitoring"] == [
        "changed ConfigMap monitoring/mon-dashboards: data.home.json: {} -> []"
    ]
    [monitoring] = [a for a in report["apps"] if a["name"].startswith("argocd/monitoring")]
    assert monitoring["note"].startswith("not rendered: kube-prometheus-stack from")
    markdown = run_cli("diff", "--repo", str(repo.path), "--repo-url", url, "--base", "HEAD~1")
    row = "| `argocd/monitoring.yaml#argocd/monitoring` | `not rendered: kube-prometheus-stack from"
    assert row in markdown.stdout


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_an_app_broken_before_the_change_says_so_and_hides_no_other(repo: git.Repo) -> None:
    change(repo, f"{APPS}/media/sonarr/app/kustomization.yaml", "./deployment.yaml", "./gone.yaml")
    repo.add()
    repo.commit("break sonarr")
    change(repo, f"{APPS}/media/sonarr/app/kustomization.yaml", "./gone.yaml", "./deployment.yaml")
    change(repo, f"{APPS}/media/jellyfin/app/deployment.yaml", "10.9.0", "10.9.1")
    report = diff(repo)
    by_name = {a["name"]: a for a in report["apps"]}
    broken = by_name[ks("media/sonarr")]
    assert broken["changes"] == []  # not "everything added"
    assert broken["note"].startswith("not rendered: cannot render: ")
    assert broken["note"].endswith("(at the base)")
    assert len(by_name[ks("media/jellyfin")]["changes"]) == 1
    # broken by the change itself: bad input, exit 2, naming the app
    change(repo, f"{APPS}/media/sonarr/app/kustomization.yaml", "./deployment.yaml", "./gone.yaml")
    repo.add()
    repo.commit("break it again")
    proc = run_cli("diff", "--repo", str(repo.path), "--format", "json", env=base_env())
    assert proc.returncode == 2 and ks("media/sonarr") in proc.stderr


@pytest.mark.parametrize("repo", ["argocd"], indirect=True)
def test_a_folder_the_appset_generator_reads_is_a_new_app(repo: git.Repo) -> None:
    # the change adds an entry point: diff must find it, not reuse the head's entry points
    url = "https://github.com/example/argo-config"
    web = repo.path / "apps" / "web" / "deployment.yaml"
    api = repo.path / "apps" / "api" / "deployment.yaml"
    api.parent.mkdir()
    api.write_text(web.read_text().replace("web", "api"))
    report = diff(repo, "--repo-url", url)
    assert report["rendered"] == ["argocd/appset.yaml#api"]
    assert summaries(report) == {"argocd/appset.yaml#api": ["added Deployment api/api: "]}


@pytest.mark.parametrize("repo", ["argocd"], indirect=True)
def test_a_generator_edit_that_takes_in_a_folder_shows_its_app(repo: git.Repo) -> None:
    # no file added or removed: the app is new because the ApplicationSet now reads it
    change(
        repo, "argocd/appset.yaml", "          - path: apps/legacy\n            exclude: true\n", ""
    )
    report = diff(repo, "--repo-url", "https://github.com/example/argo-config")
    assert summaries(report) == {
        "apps/legacy": ["removed ConfigMap /legacy: "],  # applied by no agent before
        "argocd/appset.yaml#legacy": ["added ConfigMap legacy/legacy: "],
        "bootstrap/root.yaml#argocd/root": [
            "changed ApplicationSet argocd/apps: spec.generators[0].git.directories: 2 -> 1 items"
        ],
    }


def test_a_kustomization_inflating_helm_charts_is_a_note_not_an_error(tmp_path: Path) -> None:
    """kustomize's ``helmCharts`` need ``--enable-helm`` and a download: the app's row says
    it was not rendered, and the diff goes on (it used to exit 2 on valid input)."""
    if shutil.which("kubectl") is None:
        need("kubectl (with kustomize) is not installed")
    root = tmp_path / "config"
    helm_charts_tree(root)
    repo = git.init(root)
    repo.add()
    repo.commit("initial")
    change(repo, "apps/base/dashboard/values.yaml", "replicas: 2", "replicas: 3")
    change(repo, "apps/dev/web/service.yaml", "port: 80", "port: 8080")
    report = diff(repo)
    by_name = {a["name"]: a for a in report["apps"]}
    assert by_name["apps/dev/dashboard"]["changes"] == []
    assert by_name["apps/dev/dashboard"]["note"] == (
        "not rendered: its helmCharts are inflated only by kustomize --enable-helm, which "
        "downloads the charts, so it was not rendered offline"
    )
    assert summaries(report)["apps/dev/web"] == [
        "changed Service /web: spec.ports[0].port: 80 -> 8080"
    ]


def test_files_that_are_not_resources_are_not_compared(tmp_path: Path) -> None:
    """A folder of a tool's configuration (JSON, YAML without apiVersion and kind) beside
    the manifests holds nothing the agent applies: an edit or a rename there is no change
    (it showed as a resource with an empty kind and name)."""
    root = tmp_path / "config"
    files = {
        "docker/registry/config/registry.json": '{"storage": {"gc": true}, "http": {"port": 5000}}',
        "docker/registry/config/sync.yaml": "registries:\n  - url: https://mirror.example.test\n",
        "kubernetes/web/service.yaml": (
            "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {ports: [{port: 80}]}\n"
        ),
    }
    write_tree(root, files)
    repo = git.init(root)
    repo.add()
    repo.commit("initial")
    (root / "docker/registry/config/registry.json").rename(root / "docker/registry/config/c.json")
    change(repo, "docker/registry/config/c.json", "5000", "5001")
    change(repo, "docker/registry/config/sync.yaml", "mirror.", "cache.")
    change(repo, "kubernetes/web/service.yaml", "port: 80", "port: 8080")
    report = diff(repo, "--all")
    assert summaries(report) == {
        "kubernetes/web": ["changed Service /web: spec.ports[0].port: 80 -> 8080"]
    }


@pytest.mark.parametrize("repo", ["flux-vars"], indirect=True)
def test_a_generated_configmap_literal_change_shows_in_the_apps_using_it(repo: git.Repo) -> None:
    """cluster-vars is made by a configMapGenerator (envs file and literals, no name hash),
    one per cluster: a change reaches the apps of its cluster, and only those."""
    change(repo, "infrastructure/vars/production/kustomization.yaml", "REPLICAS=3", "REPLICAS=4")
    change(repo, "infrastructure/vars/production/cluster.env", "=example.com", "=example.org")
    found = summaries(diff(repo))
    assert found["clusters/production/apps.yaml#flux-system/apps"] == [
        "changed Deployment podinfo/podinfo: spec.replicas: 3 -> 4; "
        "spec.template.spec.containers[podinfo].env[PODINFO_UI_MESSAGE].value: "
        "podinfo.example.com -> podinfo.example.org"
    ]
    assert "clusters/staging/apps.yaml#flux-system/apps" not in found


@pytest.mark.parametrize("repo", ["flux-vars"], indirect=True)
def test_a_generated_secret_change_shows_redacted(repo: git.Repo) -> None:
    change(
        repo, "clusters/staging/vars/kustomization.yaml", "staging-token-7d2e8b", "rotated-9c0f3a"
    )
    report = diff(repo)
    text = json.dumps(report)
    assert summaries(report)["clusters/staging/apps.yaml#flux-system/apps"] == [
        "changed Deployment podinfo/podinfo: "
        "spec.template.spec.containers[podinfo].env[API_TOKEN].value: *** -> ***"
    ]
    assert "production/apps.yaml" not in text
    assert "staging-token-7d2e8b" not in text and "rotated-9c0f3a" not in text


def test_a_replacements_file_a_kustomization_reads_is_one_of_its_inputs(tmp_path: Path) -> None:
    """``replacements: [{path: ...}]`` names a file the build reads: diff has it at both
    refs (it exited 2, the file missing from what it had read out of git), and Flux reads
    it from outside the path (it builds with kustomize's load restrictor off)."""
    if shutil.which("kubectl") is None:
        need("kubectl (with kustomize) is not installed")
    root = tmp_path / "config"
    write_tree(
        root,
        {
            "clusters/main/web.yaml": (
                "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
                "metadata: {name: web, namespace: flux-system}\n"
                "spec:\n  interval: 1h\n  path: ./apps/web\n  prune: true\n"
                "  sourceRef: {kind: GitRepository, name: flux-system}\n"
            ),
            "components/replacements/namespace.yaml": (
                "source: {kind: ConfigMap, name: settings, fieldPath: data.namespace}\n"
                "targets:\n  - select: {kind: Deployment}\n"
                "    fieldPaths: [spec.template.metadata.labels.space]\n"
            ),
            "apps/web/kustomization.yaml": (
                "resources: [settings.yaml, deployment.yaml]\n"
                "replacements:\n  - path: ../../components/replacements/namespace.yaml\n"
            ),
            "apps/web/settings.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
                "data: {namespace: web}\n"
            ),
            "apps/web/deployment.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
                "  selector: {matchLabels: {app: web}}\n  template:\n"
                "    metadata: {labels: {app: web, space: x}}\n"
                "    spec: {containers: [{name: web, image: 'nginx:1.27'}]}\n"
            ),
        },
    )
    repo = git.init(root)
    repo.add()
    repo.commit("initial")
    change(repo, "apps/web/deployment.yaml", "nginx:1.27", "nginx:1.28")
    change(repo, "apps/web/settings.yaml", "namespace: web", "namespace: shop")
    assert summaries(diff(repo)) == {
        "clusters/main/web.yaml#flux-system/web": [
            "changed ConfigMap /settings: data.namespace: web -> shop",
            "changed Deployment /web: spec.template.metadata.labels.space: web -> shop; "
            "spec.template.spec.containers[web].image: nginx:1.27 -> nginx:1.28",
        ]
    }
