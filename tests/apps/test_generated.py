"""ConfigMaps and Secrets made by kustomize generators, as Flux substitutions and
HelmRelease valuesFrom find them: by name (no name hash), the one the same cluster
applies, with literals, envs files and files read as kustomize reads them."""

from __future__ import annotations

import shutil
from pathlib import Path

from gitops_actions import apps
from gitops_actions.secrets import REDACTOR

from support import need

ROOT = Path(__file__).parent.parent / "data" / "apps" / "flux-vars"
URL = "https://github.com/example/fleet"
PRODUCTION = "clusters/production/apps.yaml#flux-system/apps"
STAGING = "clusters/staging/apps.yaml#flux-system/apps"


def entries() -> dict[str, apps.EntryPoint]:
    return {e.name: e for e in apps.read(ROOT, repo_url=URL).entries}


def test_each_cluster_substitutes_from_the_generator_it_applies() -> None:
    found = entries()
    assert found[PRODUCTION].build.substitute == {
        "DOMAIN": "example.com",  # envs file
        "LOG_LEVEL": '"info"',  # an envs file keeps quotes
        "REPLICAS": "3",  # literal
        "API_TOKEN": "production-token-4f9a1c",
        "CLUSTER": "production",  # substitute comes last
    }
    assert found[STAGING].build.substitute == {
        "DOMAIN": "staging.example.com",
        "REPLICAS": "1",  # a literal loses one pair of quotes
        "LOG_LEVEL": "debug",
        "API_TOKEN": "staging-token-7d2e8b",
        "CLUSTER": "staging",
    }
    assert found[PRODUCTION].settings == (
        "infrastructure/vars/production/cluster.env",
        "infrastructure/vars/production/kustomization.yaml",
    )


def test_a_generated_name_with_its_hash_is_not_found_by_name() -> None:
    assert entries()[STAGING].notes == ("substituteFrom ConfigMap hashed-vars is not in the repo",)


def test_generated_secret_values_are_redacted() -> None:
    entries()
    assert REDACTOR.redact("token production-token-4f9a1c") == "token ***"


def test_substituted_render(tmp_path: Path) -> None:
    if shutil.which("kubectl") is None:  # kustomize builds the generators
        need("kubectl (with kustomize) is not installed")
    rendered = apps.render(ROOT, entries()[PRODUCTION], tmp_path)
    deployment = next(r for r in rendered.resources if r["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == 3
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {e["name"]: e["value"] for e in env}["PODINFO_UI_MESSAGE"] == "podinfo.example.com"
    assert deployment["metadata"]["labels"] == {"cluster": "production"}


RELEASE = "apps/base/podinfo/release.yaml#podinfo/podinfo"


def test_helm_release_values_from_a_generated_configmap() -> None:
    """podinfo-values is generated with a name hash, which kustomize writes into the
    HelmRelease's valuesFrom (the nameReference of kustomizeconfig.yaml)."""
    release = entries()[RELEASE]
    assert release.build.helm is not None
    assert release.build.helm.values == (
        "ui:\n  color: '#34577c'\n  message: generated\nreplicaCount: 2\n"
    )
    assert "apps/base/podinfo/values/podinfo.yaml" in release.settings
    assert release.notes == ()


def test_a_hashed_name_nothing_rewrites_is_not_found(tmp_path: Path) -> None:
    root = Path(shutil.copytree(ROOT, tmp_path / "repo"))
    kustomization = root / "apps/base/podinfo/kustomization.yaml"
    kustomization.write_text(kustomization.read_text().split("configurations:")[0])
    release = {e.name: e for e in apps.read(root, repo_url=URL).entries}[RELEASE]
    assert release.notes == ("valuesFrom ConfigMap podinfo-values is not in the repo",)


def test_a_change_to_a_generator_input_affects_the_apps_using_it() -> None:
    changed = ["infrastructure/vars/production/cluster.env"]
    names = {e.name for e in apps.affected(ROOT, changed, repo_url=URL)}
    assert names == {PRODUCTION, "clusters/production/vars.yaml#flux-system/cluster-vars"}
