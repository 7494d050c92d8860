"""An Argo CD app-of-apps whose ApplicationSets use Go templates (``goTemplate: true``,
``missingkey=error``): git directories and files, a list, a matrix with a templatePatch.
Each Application is generated as Argo CD generates it, or a note says why not."""

from __future__ import annotations

import shutil
from pathlib import Path

from gitops_actions import apps

ROOT = Path(__file__).parent.parent / "data" / "apps" / "argocd-gotemplate"
URL = "https://github.com/example/platform.git"


def made(model: apps.Model) -> dict[str, tuple[str, str]]:
    return {
        e.name: (e.path, e.build.default_namespace)
        for e in model.entries
        if e.kind == "argocd" and e.name.startswith("argocd/")
    }


def test_generated_applications_names_paths_and_namespaces() -> None:
    model = apps.read(ROOT, repo_url=URL)
    assert made(model) == {
        # git directories: .path.basenameNormalized, .path.path, a pipeline into replace
        "argocd/addons.yaml#addon-cert-manager": ("infrastructure/cert-manager", "cert-manager"),
        "argocd/addons.yaml#addon-ingress-nginx": (
            "infrastructure/ingress_nginx",
            "ingress-nginx",
        ),
        # matrix of nested list elements and git directories; printf
        "argocd/envs.yaml#guestbook-dev": ("apps/guestbook", "guestbook-dev"),
        "argocd/envs.yaml#web-dev": ("apps/web", "web-dev"),
        "argocd/envs.yaml#guestbook-prod": ("apps/guestbook", "guestbook-prod"),
        "argocd/envs.yaml#web-prod": ("apps/web", "web-prod"),
        # list: lower | replace, trimSuffix; the element without "app" makes none
        "argocd/regions.yaml#guestbook-eu-west": ("apps/guestbook", "eu"),
        # git files: the file's nested keys beside .path.path
        "argocd/tenants.yaml#tenant-team-a": ("tenants/team-a/manifests", "team-a"),
        "argocd/tenants.yaml#tenant-team-b": ("tenants/team-b/manifests", "team-b"),
    }
    # all applied by the app-of-apps: one group
    assert {e.group for e in model.entries if e.kind == "argocd"} == {
        "bootstrap/root.yaml#argocd/root"
    }


def test_template_patch_applies_where_its_condition_holds() -> None:
    entries = {e.name: e for e in apps.read(ROOT, repo_url=URL).entries}
    assert entries["argocd/envs.yaml#guestbook-prod"].build.kustomize == {"namePrefix": "live-"}
    assert entries["argocd/envs.yaml#guestbook-dev"].build.kustomize == {}
    assert entries["argocd/envs.yaml#web-prod"].build.kustomize == {}


def test_what_cannot_be_generated_is_a_note() -> None:
    model = apps.read(ROOT, repo_url=URL)
    assert [n for n in model.notes if n.startswith(("argocd/hashed", "argocd/regions"))] == [
        "argocd/hashed.yaml: ApplicationSet hashed: goTemplate: function sha256sum is outside"
        " the template subset read here; its Applications are not generated",
        "argocd/regions.yaml: ApplicationSet regions: Application of {region=us-east} cannot"
        ' be generated: map has no entry for key "app"',
    ]
    assert not any(e.name.startswith("argocd/hashed.yaml") for e in model.entries)


def test_git_file_generator_files_are_parameters_not_resources() -> None:
    model = apps.read(ROOT, repo_url=URL)
    assert {s.path: s.reason for s in model.skipped} == {
        "tenants/team-a/config.yaml": "parameters of ApplicationSet tenants",
        "tenants/team-b/config.yaml": "parameters of ApplicationSet tenants",
    }
    assert not [f for f in model.plain_files if f.startswith("tenants/")]


def test_rendered_with_the_generated_namespace(tmp_path: Path) -> None:
    entry = next(e for e in apps.read(ROOT, repo_url=URL).entries if e.name.endswith("#web-dev"))
    rendered = apps.render(ROOT, entry, tmp_path)
    assert sorted(
        (r["kind"], r["metadata"]["namespace"], r["metadata"]["name"]) for r in rendered.resources
    ) == [("Deployment", "web-dev", "web"), ("Service", "web-dev", "web")]


def test_a_template_edit_reaches_every_generated_application(tmp_path: Path) -> None:
    root = Path(shutil.copytree(ROOT, tmp_path / "repo"))
    envs = root / "argocd/envs.yaml"
    envs.write_text(envs.read_text().replace('"%s-%s"', '"team-%s-%s"'))
    namespaces = {n: ns for n, (_, ns) in made(apps.read(root, repo_url=URL)).items()}
    assert {n: ns for n, ns in namespaces.items() if "envs" in n} == {
        f"argocd/envs.yaml#{app}-{env}": f"team-{app}-{env}"
        for app in ("guestbook", "web")
        for env in ("dev", "prod")
    }
    affected = apps.affected(root, ["argocd/envs.yaml"], repo_url=URL)
    assert {e.name for e in affected} >= set(n for n in namespaces if "envs" in n)


def test_path_param_prefix_and_elements_yaml_in_a_matrix(tmp_path: Path) -> None:
    """A matrix of git files (each listing components) and a list made from them with
    elementsYaml; the git path's parameters under pathParamPrefix."""
    root = Path(shutil.copytree(ROOT, tmp_path / "repo"))
    (root / "tenants/team-a/components.yaml").write_text(
        "components:\n  - {name: web, folder: apps/web}\n"
        "  - {name: guestbook, folder: apps/guestbook}\n"
    )
    (root / "argocd/components.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata: {name: components}\n"
        "spec:\n  goTemplate: true\n  goTemplateOptions: [missingkey=error]\n  generators:\n"
        "    - matrix:\n        generators:\n"
        f"          - git:\n              repoURL: {URL}\n              pathParamPrefix: tenant\n"
        "              files: [{path: 'tenants/*/components.yaml'}]\n"
        "          - list:\n              elementsYaml: '{{ .components | toJson }}'\n"
        "  template:\n    metadata: {name: '{{ .tenant.path.basename }}-{{ .name }}'}\n"
        f"    spec:\n      source: {{repoURL: {URL}, path: '{{{{ .folder }}}}'}}\n"
        "      destination: {namespace: '{{ index .tenant.path.segments 1 }}'}\n"
    )
    found = made(apps.read(root, repo_url=URL))
    assert {n: v for n, v in found.items() if "components" in n} == {
        "argocd/components.yaml#team-a-web": ("apps/web", "team-a"),
        "argocd/components.yaml#team-a-guestbook": ("apps/guestbook", "team-a"),
    }


def test_git_generator_values_filled_from_each_folder(tmp_path: Path) -> None:
    root = Path(shutil.copytree(ROOT, tmp_path / "repo"))
    addons = root / "argocd/addons.yaml"
    addons.write_text(
        addons.read_text()
        .replace(
            "revision: HEAD\n        directories:",
            "revision: HEAD\n        values:\n          ns: 'addon-{{ .path.basenameNormalized }}'"
            "\n        directories:",
        )
        .replace(
            'namespace: \'{{ .path.basename | replace "_" "-" }}\'', "namespace: '{{ .values.ns }}'"
        )
    )
    namespaces = {
        n: ns for n, (_, ns) in made(apps.read(root, repo_url=URL)).items() if "addons" in n
    }
    assert namespaces == {
        "argocd/addons.yaml#addon-cert-manager": "addon-cert-manager",
        "argocd/addons.yaml#addon-ingress-nginx": "addon-ingress-nginx",
    }
