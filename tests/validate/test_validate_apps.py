"""validate renders every entry point of the application model: Flux Kustomizations with
their components and substitutions, Argo CD apps; duplicates only within what one agent
applies; one finding per place, naming every entry point behind it; coverage reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gitops_actions.validate.runner import Request, validate

from support import need, run_cli, write_tree

DATA = Path(__file__).resolve().parent.parent / "data" / "apps"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    if shutil.which("kubectl") is None:
        need("kubectl (its built-in kustomize renders components)")
    root = tmp_path / "repo"
    shutil.copytree(DATA / request.param, root)
    monkeypatch.chdir(root)
    return root


def lines(*paths: str, **options: object) -> list[str]:
    outcome = validate(Request(paths=paths, workers=1, **options))  # type: ignore[arg-type]
    return [
        f"{f.file}:{f.line}:{f.column}: {f.check}: {f.message} [{f.origin}]"
        for f in outcome.findings
    ]


@pytest.mark.parametrize("repo", ["flux-monorepo"], indirect=True)
def test_the_standard_flux_layout_passes_across_clusters(repo: Path) -> None:
    outcome = validate(Request(paths=(".",), workers=1))
    assert outcome.findings == ()
    assert outcome.coverage["entryPoints"] == {"flux": 8}
    assert outcome.coverage["rendered"] == 8
    assert [(s.file, s.reason) for s in outcome.skipped] == [
        ("renovate.json", "Renovate configuration")
    ]


@pytest.mark.parametrize("repo", ["flux-monorepo"], indirect=True)
def test_duplicates_count_within_what_one_agent_applies(repo: Path) -> None:
    copy = (repo / "clusters/production/apps.yaml").read_text().replace("name: apps", "name: again")
    (repo / "clusters/production/again.yaml").write_text(copy)
    found = [line for line in lines(".") if "duplicate-resource" in line]
    assert len(found) == 2  # the Namespace and the Deployment, in production only
    assert all("is defined again" in line for line in found)
    assert not any("staging" in line for line in found)


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_a_component_finding_is_reported_once_naming_every_app(repo: Path) -> None:
    apps = [
        f"kubernetes/apps/{a}/ks.yaml" for a in ("default/echo", "media/jellyfin", "media/sonarr")
    ]
    origins = ", ".join(f"flux {a}#flux-system/{a.split('/')[3]}" for a in apps)
    assert lines(".") == [
        "kubernetes/components/common/alerts.yaml:8:12: schema: expected string, got integer 3 "
        f"[{origins}]"
    ]


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_unresolved_variables_are_notes_and_coverage_is_reported(repo: Path) -> None:
    alerts = repo / "kubernetes/components/common/alerts.yaml"
    alerts.write_text(alerts.read_text().replace("retries: 3", "replicas: ${REPLICAS}"))
    done = run_cli("validate", ".", "--format", "json", cwd=repo)
    assert done.returncode == 0, done.stderr + done.stdout
    report = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    assert report["findings"] == []
    coverage = report["coverage"]
    assert coverage["entryPoints"] == {"flux": 4}
    assert coverage["plainFiles"] == 3  # the cluster's own objects and its settings
    assert (
        "kubernetes/apps/media/sonarr/ks.yaml#flux-system/sonarr: no value in the repo for "
        "REPLICAS, SECRET_DOMAIN (left to the cluster; not checked)"
    ) in coverage["notes"]


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_a_substituted_value_is_checked_after_substitution(repo: Path) -> None:
    ks = repo / "kubernetes/apps/media/sonarr/ks.yaml"
    ks.write_text(ks.read_text().replace("VOLSYNC_CAPACITY: 5Gi", "VOLSYNC_CAPACITY: lots"))
    [line] = [x for x in lines(".") if "PersistentVolumeClaim" in x or "quantity" in x]
    assert line.startswith("kubernetes/components/volsync/pvc.yaml:")
    assert "not a valid quantity" in line and "sonarr" in line


@pytest.mark.parametrize("repo", ["argocd"], indirect=True)
def test_argocd_apps_and_excluded_paths(repo: Path) -> None:
    url = "https://github.com/example/argo-config"
    outcome = validate(Request(paths=(".",), workers=1, repo_url=url))
    assert outcome.findings == ()
    assert outcome.coverage["entryPoints"] == {"argocd": 4}
    skipped = {s.file: s.reason for s in outcome.skipped}
    assert skipped["values/monitoring.yaml"].startswith("Helm values of argocd/monitoring.yaml")
    assert "kube-prometheus-stack" in skipped["argocd/monitoring.yaml#argocd/monitoring"]
    (repo / "apps/legacy/configmap.yaml").write_text("kind: [unclosed\n")
    assert lines(".", repo_url=url, exclude=("apps/legacy",)) == []
    assert lines(".", repo_url=url)[0].startswith("apps/legacy/configmap.yaml:2:1: yaml:")


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_helmfile_files_of_a_bootstrap_step_are_skipped_as_not_resources(repo: Path) -> None:
    """Flux repos often install the first charts (CNI, CRDs, Flux itself) with helmfile
    before Flux takes over: its files are configuration, not resources."""
    write_tree(
        repo,
        {
            "bootstrap/helmfile/apps.yaml": (
                "helmDefaults: {wait: true}\n"
                "releases:\n  - name: cni\n    namespace: kube-system\n    chart: oci://x.test/cni\n"
            ),
            "bootstrap/helmfile.d/crds.yaml": "releases:\n  - name: crds\n    chart: x/crds\n",
            "tools/helmfile.yaml": "repositories:\n  - name: x\n    url: https://x.test\n",
        },
    )
    outcome = validate(Request(paths=(".",), workers=1))
    assert not [f for f in outcome.findings if f.check == "not-a-resource"]
    assert sorted((s.file, s.reason) for s in outcome.skipped if "helmfile" in s.file) == [
        ("bootstrap/helmfile.d/crds.yaml", "helmfile configuration"),
        ("bootstrap/helmfile/apps.yaml", "helmfile configuration"),
        ("tools/helmfile.yaml", "helmfile configuration"),
    ]


PLATFORM = "https://github.com/example/platform.git"


@pytest.mark.parametrize(
    ("repo", "url"),
    [("argocd-gotemplate", PLATFORM), ("flux-vars", "https://github.com/example/fleet")],
    indirect=["repo"],
)
def test_generated_apps_and_generated_variables_pass(repo: Path, url: str) -> None:
    """Directory apps of one folder in two namespaces (web-dev, web-prod) are no
    duplicates: Argo CD puts each in its destination namespace. Substitutions come from
    generated ConfigMaps and Secrets, so no variable is left unresolved."""
    outcome = validate(Request(paths=(".",), workers=1, repo_url=url))
    assert outcome.findings == ()


@pytest.mark.parametrize("repo", ["argocd-gotemplate"], indirect=True)
def test_directory_apps_in_one_namespace_of_one_cluster_are_duplicates(repo: Path) -> None:
    """dev and prod deploy to two clusters: the same namespace on both is no clash; once
    both deploy to one cluster, it is."""
    envs = repo / "argocd/envs.yaml"
    envs.write_text(envs.read_text().replace("'{{ printf \"%s-%s\" .path.basename .env }}'", "web"))
    assert validate(Request(paths=(".",), workers=1, repo_url=PLATFORM)).findings == ()
    envs.write_text(
        envs.read_text().replace("https://prod.example.test", "https://dev.example.test")
    )
    outcome = validate(Request(paths=(".",), workers=1, repo_url=PLATFORM))
    assert sorted(f"{f.file}: {f.message}" for f in outcome.findings) == [
        "apps/web/deployment.yaml: Deployment web/web is defined again (first in"
        " apps/web/deployment.yaml:1)",
        "apps/web/service.yaml: Service web/web is defined again (first in"
        " apps/web/service.yaml:1)",
    ]


@pytest.mark.parametrize("repo", ["argocd"], indirect=True)
def test_helm_values_files_nothing_names_are_skipped_by_their_name(repo: Path) -> None:
    """Values files an ApplicationSet of Go templates picks by a cluster's annotations are
    named by no path the model can read; their names say what they are. A resource whose
    name looks the same is still validated."""
    write_tree(
        repo,
        {
            "environments/default/addons/ingress/values.yaml": "replicaCount: 2\n",
            "environments/prod/addons/ingress/ingress-values.yaml": "controller: {kind: x}\n",
            "environments/prod/addons/ingress/values.prod.yml": "- a list\n",
            "environments/prod/settings-values.yaml": (
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: 1}\n"
            ),
        },
    )
    outcome = validate(Request(paths=("environments",), workers=1))
    assert sorted(s.file for s in outcome.skipped) == [
        "environments/default/addons/ingress/values.yaml",
        "environments/prod/addons/ingress/ingress-values.yaml",
        "environments/prod/addons/ingress/values.prod.yml",
    ]
    assert {s.reason for s in outcome.skipped} == {
        "Helm values file (by its name; nothing names it)"
    }
    [finding] = outcome.findings  # the ConfigMap is checked: data values are strings
    assert finding.file == "environments/prod/settings-values.yaml"
    assert finding.check == "schema"


@pytest.mark.parametrize("repo", ["flux-apps"], indirect=True)
def test_findings_traced_in_parallel_are_those_traced_one_by_one(repo: Path) -> None:
    """Each entry point's findings are traced by a render of its own, several at once:
    the same findings, in the same order, as one at a time."""
    (repo / "kubernetes/apps/media/sonarr/app/deployment.yaml").write_text(
        (repo / "kubernetes/apps/media/sonarr/app/deployment.yaml")
        .read_text()
        .replace("spec:\n  selector:", 'spec:\n  replicas: "1"\n  selector:')
    )
    one = validate(Request(paths=(".",), workers=1)).findings
    many = validate(Request(paths=(".",), workers=2)).findings
    assert len({f.origin for f in one}) >= 2  # more than one entry point traced
    assert many == one
