"""The application model on fixture repos in the shapes real config repos use."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitops_actions import apps
from gitops_actions.apps import flux
from gitops_actions.apps.objects import merge_patch
from gitops_actions.apps.source import canonical
from gitops_actions.diff.tree import DiskTree

from support import need, write_tree

DATA = Path(__file__).parent.parent / "data" / "apps"
MONOREPO = DATA / "flux-monorepo"
KS_LAYOUT = DATA / "flux-apps"
ARGOCD = DATA / "argocd"


def names(model: apps.Model) -> dict[str, tuple[str, str]]:
    return {e.name: (e.kind, e.path) for e in model.entries if e.kind != "plain"}


def identities(rendered: apps.Rendered) -> list[tuple[str, str, str]]:
    return sorted(
        (
            str(r.get("kind")),
            str((r.get("metadata") or {}).get("namespace") or ""),
            str((r.get("metadata") or {}).get("name") or ""),
        )
        for r in rendered.resources
    )


@pytest.fixture
def kubectl() -> None:
    if shutil.which("kubectl") is None:
        need("kubectl (with kustomize) is not installed")


def render(root: Path, name: str, tmp_path: Path) -> apps.Rendered:
    model = apps.read(root)
    [entry] = [e for e in model.entries if e.name == name]
    return apps.render(root, entry, tmp_path)


def test_flux_monorepo_entry_points_and_their_clusters() -> None:
    model = apps.read(MONOREPO, repo_url="https://github.com/example/fleet.git")
    found = names(model)
    assert found == {
        f"clusters/{env}/{file}#flux-system/{name}": ("flux", path)
        for env in ("production", "staging")
        for file, name, path in (
            ("flux-system/gotk-sync.yaml", "flux-system", f"clusters/{env}"),
            ("apps.yaml", "apps", f"apps/{env}"),
            ("infrastructure.yaml", "infra-controllers", "infrastructure/controllers"),
            ("infrastructure.yaml", "infra-configs", "infrastructure/configs"),
        )
    }
    groups = {e.name: e.group for e in model.entries}
    for env in ("production", "staging"):
        root = f"clusters/{env}/flux-system/gotk-sync.yaml#flux-system/flux-system"
        mine = [n for n, g in groups.items() if n.startswith(f"clusters/{env}/")]
        assert {groups[n] for n in mine} == {root}
    assert model.skipped == (apps.Skipped("renovate.json", "Renovate configuration"),)
    assert model.plain_files == ()
    [prod] = [
        e for e in model.entries if e.name == "clusters/production/apps.yaml#flux-system/apps"
    ]
    assert prod.build.generated is False
    assert set(prod.inputs) == {
        "clusters/production/apps.yaml",
        "apps/production/kustomization.yaml",
        "apps/base/podinfo/kustomization.yaml",
        "apps/base/podinfo/deployment.yaml",
        "apps/base/podinfo/namespace.yaml",
    }


@pytest.mark.parametrize("repo", [MONOREPO, KS_LAYOUT, ARGOCD], ids=lambda p: p.name)
def test_discovery_without_groups_differs_only_in_the_groups(repo: Path) -> None:
    # diff asks for no groups (it does not show them): everything else stays as found
    url = "https://github.com/example/fleet.git"
    tree = DiskTree(repo)
    grouped = apps.discover(tree, repo_url=url)
    plain = apps.discover(tree, repo_url=url, grouped=False)
    assert [dataclasses.replace(e, group="") for e in plain.entries] == [
        dataclasses.replace(e, group="") for e in grouped.entries
    ]
    assert (plain.skipped, plain.notes, plain.plain_files) == (
        grouped.skipped,
        grouped.notes,
        grouped.plain_files,
    )
    assert [e.group for e in plain.entries] != [e.group for e in grouped.entries]


def test_a_source_in_another_repo_is_not_an_entry_point() -> None:
    model = apps.read(MONOREPO, repo_url="https://github.com/example/other")
    # the roots and files, as without Flux
    assert {e.kind for e in model.entries} == {"kustomize", "plain"}
    assert any("is another repo" in n for n in model.notes)


def test_a_tenant_on_another_branch_of_this_repo_is_not_an_entry_point(tmp_path: Path) -> None:
    """Multi-tenancy: a tenant's GitRepository names this repo's URL but its own branch.
    What it applies is on that branch, not in this checkout (read as this checkout, its
    path "./" took in every cluster)."""
    source = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {{name: {name}, namespace: {ns}}}\n"
        "spec: {{interval: 1m, url: '{url}', ref: {{branch: {branch}}}}}\n---\n"
    )
    sync = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {{name: {name}, namespace: {ns}}}\n"
        "spec: {{interval: 5m, path: '{path}', prune: true,"
        " sourceRef: {{kind: GitRepository, name: {name}}}}}\n"
    )
    url = "https://github.com/example/fleet"
    write_tree(
        tmp_path,
        {
            "clusters/staging/flux-system/gotk-sync.yaml": source.format(
                name="flux-system",
                ns="flux-system",
                url="ssh://git@github.com/example/fleet",
                branch="main",
            )
            + sync.format(name="flux-system", ns="flux-system", path="./clusters/staging"),
            "clusters/staging/tenants.yaml": sync.format(
                name="tenants", ns="flux-system", path="./tenants"
            ),
            "tenants/dev-team.yaml": source.format(
                name="dev-team", ns="apps", url=url, branch="dev-team"
            )
            + sync.format(name="dev-team", ns="apps", path="./"),
        },
    )
    model = apps.read(tmp_path, repo_url=url)
    assert sorted(e.name for e in model.entries if e.kind == "flux") == [
        "clusters/staging/flux-system/gotk-sync.yaml#flux-system/flux-system",
        "clusters/staging/tenants.yaml#flux-system/tenants",
    ]
    assert model.notes == (
        "tenants/dev-team.yaml: Kustomization dev-team: its source "
        f"{url} (branch dev-team) is another repo or branch",
    )


def test_affected_maps_changed_files_to_the_entry_points_they_feed() -> None:
    found = {e.name for e in apps.affected(MONOREPO, ["apps/base/podinfo/deployment.yaml"])}
    assert found == {
        "clusters/production/apps.yaml#flux-system/apps",
        "clusters/staging/apps.yaml#flux-system/apps",
    }
    found = {e.name for e in apps.affected(MONOREPO, ["./clusters/staging/apps.yaml"])}
    assert found == {
        "clusters/staging/apps.yaml#flux-system/apps",
        "clusters/staging/flux-system/gotk-sync.yaml#flux-system/flux-system",
    }
    component = "kubernetes/components/volsync/pvc.yaml"
    found = {e.name.split("#")[0] for e in apps.affected(KS_LAYOUT, [component])}
    assert found == {
        f"kubernetes/apps/{a}/ks.yaml" for a in ("default/echo", "media/jellyfin", "media/sonarr")
    }
    settings = "kubernetes/flux/vars/cluster-settings.yaml"
    found = {e.name for e in apps.affected(KS_LAYOUT, [settings])}
    assert len(found) == 5 and "kubernetes/flux/vars" in found  # 4 apps, and the file itself
    assert apps.affected(KS_LAYOUT, ["README.md"]) == []


def test_flux_generated_kustomization_takes_every_manifest_under_the_path(tmp_path: Path) -> None:
    done = render(
        MONOREPO, "clusters/production/flux-system/gotk-sync.yaml#flux-system/flux-system", tmp_path
    )
    assert identities(done) == [
        ("GitRepository", "flux-system", "flux-system"),
        ("Kustomization", "flux-system", "apps"),
        ("Kustomization", "flux-system", "flux-system"),
        ("Kustomization", "flux-system", "infra-configs"),
        ("Kustomization", "flux-system", "infra-controllers"),
        ("Namespace", "", "flux-system"),
    ]
    assert done.error == "" and done.renderer == "in-process"


def test_ks_layout_components_substitutions_and_target_namespace(
    tmp_path: Path, kubectl: None
) -> None:
    model = apps.read(KS_LAYOUT)
    assert names(model)["kubernetes/apps/media/sonarr/ks.yaml#flux-system/sonarr"] == (
        "flux",
        "kubernetes/apps/media/sonarr/app",
    )
    assert model.plain_files == (
        "kubernetes/flux/cluster/gitrepository.yaml",
        "kubernetes/flux/cluster/ks.yaml",
        "kubernetes/flux/vars/cluster-settings.yaml",
    )
    done = render(KS_LAYOUT, "kubernetes/apps/media/sonarr/ks.yaml#flux-system/sonarr", tmp_path)
    assert done.error == "", done.error
    assert identities(done) == [
        ("ConfigMap", "media", "sonarr-alerts"),
        ("Deployment", "media", "sonarr"),
        ("PersistentVolumeClaim", "media", "sonarr"),
    ]
    by_kind: dict[str, Any] = {r["kind"]: r for r in done.resources}
    pvc = by_kind["PersistentVolumeClaim"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "5Gi"  # substitute
    assert pvc["spec"]["storageClassName"] == "ceph-block"  # ${VAR:-default}
    assert pvc["metadata"]["labels"] == {"app.kubernetes.io/name": "sonarr"}  # commonMetadata
    container = by_kind["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert container["env"] == [{"name": "TZ", "value": "Europe/Paris"}]  # substituteFrom
    assert by_kind["ConfigMap"]["data"]["domain"] == "${SECRET_DOMAIN}"  # left to the cluster
    assert done.unresolved == ("SECRET_DOMAIN",)
    echo = render(KS_LAYOUT, "kubernetes/apps/default/echo/ks.yaml#flux-system/echo", tmp_path)
    [claim] = [r for r in echo.resources if r["kind"] == "PersistentVolumeClaim"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"  # ${VAR:=default}


def test_argocd_app_of_apps_applicationset_and_multi_source(tmp_path: Path, kubectl: None) -> None:
    model = apps.read(ARGOCD, repo_url="git@github.com:example/argo-config")
    assert names(model) == {
        "argocd/monitoring.yaml#argocd/monitoring": ("argocd", "."),
        "bootstrap/root.yaml#argocd/root": ("argocd", "argocd"),
        "argocd/appset.yaml#guestbook": ("argocd", "apps/guestbook"),
        "argocd/appset.yaml#web": ("argocd", "apps/web"),
    }
    assert {e.group for e in model.entries if e.kind == "argocd"} == {
        "bootstrap/root.yaml#argocd/root"
    }
    assert (
        apps.Skipped(
            "values/monitoring.yaml", "Helm values of argocd/monitoring.yaml#argocd/monitoring"
        )
        in model.skipped
    )
    assert model.plain_files == ("apps/legacy/configmap.yaml", "bootstrap/root.yaml")
    assert any("someone-else/manifests" in n for n in model.notes)
    monitoring = render(ARGOCD, "argocd/monitoring.yaml#argocd/monitoring", tmp_path)
    assert identities(monitoring) == [("ConfigMap", "monitoring", "mon-dashboards")]
    assert monitoring.resources[0]["metadata"]["labels"] == {"team": "observability"}
    assert "kube-prometheus-stack" in monitoring.skipped
    web = render(ARGOCD, "argocd/appset.yaml#web", tmp_path)
    assert identities(web) == [("Deployment", "web", "web"), ("Service", "web", "web")]
    guestbook = render(ARGOCD, "argocd/appset.yaml#guestbook", tmp_path)
    [deployment] = guestbook.resources
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "gcr.io/heptio-images/ks-guestbook-demo:0.2"
    assert deployment["metadata"]["namespace"] == "guestbook"  # destination.namespace


def test_substitution_follows_flux() -> None:
    values = {"A": "x", "EMPTY": ""}
    text, missing = flux.substitute(
        "${A} ${B:=b} ${EMPTY:=e} ${EMPTY=e} ${C:-c} $${A} ${D}", values
    )
    assert text == "x b e  c ${A} ${D}"
    assert missing == {"D"}
    # a default is substituted in turn, as Flux's envsubst evaluates it
    text, missing = flux.substitute(
        "${CLAIM:-${A}} ${CLAIM:=${B:-${A}}-data} ${CLAIM:-${E}} {${A}} ${A:-{x}}", values
    )
    assert text == "x x-data ${E} {x} x}"  # a default ends at the first unnested }
    assert missing == {"E"}
    assert flux.disabled({"metadata": {"annotations": {flux.DISABLED: "disabled"}}})


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/Example/Fleet.git",
        "git@github.com:example/fleet",
        "ssh://git@github.com/example/fleet/",
        "https://token@github.com/example/fleet",
    ],
)
def test_repository_urls_compare_by_host_and_path(url: str) -> None:
    assert canonical(url) == "github.com/example/fleet"


def test_components_adding_resources_build_in_process_as_kustomize_does(
    tmp_path: Path, kubectl: None
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(KS_LAYOUT, root)
    app = root / "kubernetes/apps/media/sonarr/app"
    (app / "kustomization.yaml").write_text(
        "resources: [deployment.yaml]\nnamespace: media\ncomponents:\n"
        "  - ../../../../components/common\n  - ../../../../components/volsync\n"
    )
    model = apps.read(root)
    [entry] = [e for e in model.entries if e.path == "kubernetes/apps/media/sonarr/app"]
    entry = dataclasses.replace(entry, build=apps.Build())  # the kustomization alone
    done = apps.render(root, entry, tmp_path)
    assert done.renderer == "in-process"
    real = subprocess.run(
        ["kubectl", "kustomize", str(app)], capture_output=True, text=True, check=True
    )
    expected = [d for d in yaml.safe_load_all(real.stdout) if d]

    def key(value: Any) -> str:
        return json.dumps(value, sort_keys=True)

    assert sorted(map(key, done.resources)) == sorted(map(key, expected))


def test_bootstrap_paths_and_artifact_generators_as_in_the_flux_example(tmp_path: Path) -> None:
    """The current Flux example: gotk files written at bootstrap (placeholders in the
    repo), and Kustomizations whose source is an ExternalArtifact that an
    ArtifactGenerator copies from this repo."""
    root = tmp_path / "repo"
    shutil.copytree(MONOREPO, root)
    for env in ("production", "staging"):
        cluster = root / "clusters" / env
        (cluster / "flux-system/gotk-sync.yaml").write_text("# written by flux bootstrap\n")
        (cluster / "artifacts.yaml").write_text(
            "apiVersion: source.extensions.fluxcd.io/v1beta1\nkind: ArtifactGenerator\n"
            "metadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  sources:\n"
            "    - alias: monorepo\n      kind: GitRepository\n      name: flux-system\n"
            "  artifacts:\n    - name: apps\n      copy:\n"
            '        - from: "@monorepo/apps/base/**"\n          to: "@artifact/base/"\n'
            f'        - from: "@monorepo/apps/{env}/**"\n          to: "@artifact/{env}/"\n'
        )
        apps_yaml = cluster / "apps.yaml"
        apps_yaml.write_text(
            apps_yaml.read_text()
            .replace(
                "kind: GitRepository\n    name: flux-system",
                "kind: ExternalArtifact\n    name: apps",
            )
            .replace(f"path: ./apps/{env}", f"path: ./{env}")
        )
    model = apps.read(root)
    found = names(model)
    for env in ("production", "staging"):
        bootstrap = f"clusters/{env}/flux-system/gotk-sync.yaml#flux-system/flux-system"
        assert found[bootstrap] == ("flux", f"clusters/{env}")
        assert found[f"clusters/{env}/apps.yaml#flux-system/apps"] == ("flux", f"apps/{env}")
        groups = {e.group for e in model.entries if e.name.startswith(f"clusters/{env}/")}
        assert groups == {bootstrap}


def test_applicationset_list_and_git_file_generators(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    shutil.copytree(ARGOCD, root)
    (root / "argocd/appset.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: envs\n"
        "spec:\n  goTemplate: true\n  generators:\n    - list:\n        elements:\n"
        "          - env: dev\n          - env: prod\n"
        "    - git:\n        repoURL: https://github.com/example/argo-config.git\n"
        "        files:\n          - path: config/*/app.json\n"
        "  template:\n    metadata:\n      name: 'guestbook-{{.env}}'\n    spec:\n"
        "      source:\n        repoURL: https://github.com/example/argo-config.git\n"
        "        path: apps/guestbook\n        kustomize:\n          namePrefix: '{{.env}}-'\n"
        "      destination:\n        namespace: '{{.env}}'\n"
    )
    (root / "config/qa").mkdir(parents=True)
    (root / "config/qa/app.json").write_text('{"env": "qa"}')
    model = apps.read(root, repo_url="https://github.com/example/argo-config")
    made = {e.name: e for e in model.entries if e.name.startswith("argocd/appset.yaml#")}
    assert sorted(made) == [f"argocd/appset.yaml#guestbook-{env}" for env in ("dev", "prod", "qa")]
    qa = made["argocd/appset.yaml#guestbook-qa"]
    assert qa.build.default_namespace == "qa"
    assert qa.build.kustomize == {"namePrefix": "qa-"}
    assert apps.affected(root, ["apps/guestbook/deployment.yaml"]) and all(
        e.group == "bootstrap/root.yaml#argocd/root" for e in made.values()
    )


def test_a_helmrelease_of_a_chart_in_the_repo_and_a_folder_both_clusters_apply(
    tmp_path: Path,
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(MONOREPO, root)
    chart = root / "charts/web"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: web\nversion: 0.1.0\n")
    (chart / "values.yaml").write_text("replicas: 1\n")
    (chart / "templates/cm.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n"
    )
    controllers = root / "infrastructure/controllers"
    (controllers / "web.yaml").write_text(
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata:\n  name: web\n"
        "  namespace: web\nspec:\n  interval: 1h\n  chart:\n    spec:\n      chart: ./charts/web\n"
        "      sourceRef:\n        kind: GitRepository\n        name: flux-system\n"
        "        namespace: flux-system\n  values:\n    replicas: 2\n"
    )
    kustomization = controllers / "kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - web.yaml\n")
    model = apps.read(root)
    [web] = [e for e in model.entries if e.path == "charts/web"]
    assert (web.name, web.kind) == ("infrastructure/controllers/web.yaml#web/web", "flux")
    assert web.build.helm is not None and "replicas: 2" in web.build.helm.values
    assert web.build.default_namespace == "web"
    # both clusters apply infrastructure/controllers: the clusters stay two trees
    for env in ("production", "staging"):
        groups = {e.group for e in model.entries if e.name.startswith(f"clusters/{env}/")}
        assert groups == {f"clusters/{env}/flux-system/gotk-sync.yaml#flux-system/flux-system"}
    assert apps.affected(root, ["charts/web/templates/cm.yaml"]) == [web]


def test_the_origin_of_an_enclosing_repo_is_not_this_repos_url(tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    shutil.copytree(MONOREPO, outer / "fleet")
    subprocess.run(["git", "init", "-q", str(outer)], check=True)
    subprocess.run(
        ["git", "-C", str(outer), "remote", "add", "origin", "https://github.com/example/x.git"],
        check=True,
    )
    assert apps.remote_url(outer) == "https://github.com/example/x.git"
    assert apps.remote_url(outer / "fleet") == ""
    # so the Flux objects in the folder are read as this repo's, not as another repo's
    assert {e.kind for e in apps.read(outer / "fleet").entries} >= {"flux"}
    assert {e.kind for e in apps.read(outer).entries} == {"kustomize", "plain"}


@pytest.mark.parametrize(
    ("written", "referenced"),
    [
        ("cluster-settings", "cluster-settings"),
        ('"cluster\\x2dsettings"', "cluster-settings"),  # an escape: the bytes differ
        ("0x1f", "31"),  # a number, as the decoder reads it
        ("1_000", "1000"),
    ],
)
def test_substitute_from_finds_the_configmap_however_its_name_is_written(
    tmp_path: Path, written: str, referenced: str
) -> None:
    root = tmp_path / "repo"
    shutil.copytree(KS_LAYOUT, root)
    settings = root / "kubernetes/flux/vars/cluster-settings.yaml"
    settings.write_text(settings.read_text().replace("name: cluster-settings", f"name: {written}"))
    (root / "kubernetes/flux/vars/other.yaml").write_text(  # another ConfigMap, not named so
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: other\n  namespace: flux-system\n"
        "data:\n  TIMEZONE: UTC\n"
    )
    ks = root / "kubernetes/apps/media/sonarr/ks.yaml"
    ks.write_text(ks.read_text().replace("name: cluster-settings", f"name: '{referenced}'"))
    [sonarr] = [e for e in apps.read(root).entries if e.name.endswith("#flux-system/sonarr")]
    assert sonarr.build.substitute is not None
    assert sonarr.build.substitute["TIMEZONE"] == "Europe/Paris"
    assert "kubernetes/flux/vars/cluster-settings.yaml" in sonarr.settings
    assert not any("is not in the repo" in n for n in sonarr.notes)


def test_a_patch_file_is_not_an_object_the_agent_applies(tmp_path: Path) -> None:
    """An overlay patching a Kustomization (one cluster's spec.path) holds a partial
    object; read as an object of its own it was a second app, or a note that its path
    is not in the repo."""
    ks = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {{name: {name}, namespace: flux-system}}\n"
        "spec: {{path: {path}, sourceRef: {{kind: GitRepository, name: flux-system}}}}\n"
    )
    settings = "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: s}}\ndata: {{v: {v}}}\n"
    write_tree(
        tmp_path,
        {
            "clusters/prod/apps.yaml": ks.format(name="apps", path="./apps/prod"),
            "apps/base/kustomization.yaml": "resources: [web.yaml]\n",
            "apps/base/web.yaml": ks.format(name="web", path="./web/base"),
            "apps/prod/kustomization.yaml": "resources: [../base]\npatches:\n  - path: web.yaml\n",
            "apps/prod/web.yaml": ks.format(name="web", path="./web/prod"),
            "web/base/settings.yaml": settings.format(v="base"),
            "web/prod/settings.yaml": settings.format(v="prod"),
        },
    )
    model = apps.read(tmp_path)
    assert sorted(e.defined_in for e in model.entries if e.kind == "flux") == [
        "apps/base/web.yaml",
        "clusters/prod/apps.yaml",
    ]


def test_merge_patch_merges_mappings_replaces_the_rest_and_removes_on_null() -> None:
    base = {"a": {"b": 1, "c": [1, 2], "d": "x"}, "e": 1}
    patch = {"a": {"c": [3], "d": None, "f": {"g": 2}}, "e": None}
    assert merge_patch(base, patch) == {"a": {"b": 1, "c": [3], "f": {"g": 2}}}
    assert base == {"a": {"b": 1, "c": [1, 2], "d": "x"}, "e": 1}  # not changed in place
