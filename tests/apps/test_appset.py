"""Argo CD ApplicationSets whose generators combine what the repo holds: cluster Secrets,
git directories, lists, in matrix and merge; the rest named in a note."""

from __future__ import annotations

import base64
from pathlib import Path

from gitops_actions import apps

URL = "https://github.com/example/fleet.git"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


FILES = {
    # cluster Secrets, as `argocd cluster add` or a declarative setup writes them
    "clusters/prod.yaml": """\
apiVersion: v1
kind: Secret
metadata:
  name: cluster-prod
  namespace: argocd
  labels: {argocd.argoproj.io/secret-type: cluster, env: prod}
  annotations: {region: eu-west-1}
type: Opaque
stringData:
  name: prod_eu
  server: https://prod.example.test:6443
  config: '{"tlsClientConfig": {"insecure": false}}'
""",
    "clusters/staging.yaml": f"""\
apiVersion: v1
kind: Secret
metadata:
  name: cluster-staging
  namespace: argocd
  labels: {{argocd.argoproj.io/secret-type: cluster, env: staging}}
data:
  name: {b64("staging")}
  server: {b64("https://staging.example.test:6443")}
""",
    "clusters/not-a-cluster.yaml": """\
apiVersion: v1
kind: Secret
metadata: {name: repo-creds, namespace: argocd, labels: {env: prod}}
stringData: {url: https://github.com/example}
""",
    "addons/cert-manager/kustomization.yaml": "resources: [namespace.yaml]\n",
    "addons/cert-manager/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n",
    "addons/ingress-nginx/kustomization.yaml": "resources: [namespace.yaml]\n",
    "addons/ingress-nginx/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata: {name: i}\n",
    "apps/web/kustomization.yaml": "resources: [cm.yaml]\n",
    "apps/web/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n",
    "argocd/addons.yaml": f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: addons, namespace: argocd}}
spec:
  goTemplate: true
  generators:
    - matrix:
        generators:
          - clusters:
              selector:
                matchExpressions:
                  - {{key: env, operator: In, values: [prod, staging]}}
          - git:
              repoURL: {URL}
              revision: HEAD
              directories:
                - path: addons/*
  template:
    metadata:
      name: '{{{{.path.basename}}}}-{{{{.nameNormalized}}}}'
    spec:
      project: '{{{{.metadata.labels.env}}}}'
      source:
        repoURL: {URL}
        path: '{{{{.path.path}}}}'
      destination:
        server: '{{{{.server}}}}'
        namespace: '{{{{.path.basename}}}}'
""",
    "argocd/web.yaml": f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: web, namespace: argocd}}
spec:
  generators:
    - merge:
        mergeKeys: [server]
        generators:
          - clusters:
              values: {{revision: main, zone: '{{{{name}}}}'}}
          - list:
              elements:
                - server: https://prod.example.test:6443
                  values.revision: stable
  template:
    metadata:
      name: 'web-{{{{name}}}}'
    spec:
      project: default
      source:
        repoURL: {URL}
        path: apps/web
        targetRevision: '{{{{values.revision}}}}'
      destination:
        server: '{{{{server}}}}'
        namespace: 'web-{{{{values.revision}}}}-{{{{values.zone}}}}'
""",
    "argocd/previews.yaml": f"""\
apiVersion: argoproj.io/v1alpha1
kind: ApplicationSet
metadata: {{name: previews, namespace: argocd}}
spec:
  generators:
    - pullRequest:
        github: {{owner: example, repo: web}}
    - matrix:
        generators:
          - scmProvider:
              github: {{organization: example}}
          - list:
              elements: [{{x: y}}]
    - plugin:
        configMapRef: {{name: my-plugin}}
    - clusterDecisionResource:
        configMapRef: ocm-placement
  template:
    metadata: {{name: 'preview-{{{{number}}}}'}}
    spec:
      source: {{repoURL: {URL}, path: apps/web}}
      destination: {{namespace: preview}}
""",
}


def fleet(root: Path) -> Path:
    for name, text in FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def generated(model: apps.Model, file: str) -> dict[str, apps.EntryPoint]:
    return {e.name.partition("#")[2]: e for e in model.entries if e.name.startswith(file + "#")}


def test_matrix_of_cluster_secrets_and_git_directories(tmp_path: Path) -> None:
    model = apps.read(fleet(tmp_path / "repo"), repo_url=URL)
    made = generated(model, "argocd/addons.yaml")
    # the selector leaves out the in-cluster default and the Secret that is no cluster
    assert sorted(made) == [
        f"{addon}-{cluster}"
        for addon in ("cert-manager", "ingress-nginx")
        for cluster in ("prod-eu", "staging")
    ]
    entry = made["ingress-nginx-prod-eu"]
    assert (entry.path, entry.build.default_namespace) == ("addons/ingress-nginx", "ingress-nginx")
    assert apps.affected(tmp_path / "repo", ["addons/cert-manager/namespace.yaml"], repo_url=URL)


def test_merge_overrides_cluster_parameters_by_merge_key(tmp_path: Path) -> None:
    model = apps.read(fleet(tmp_path / "repo"), repo_url=URL)
    made = generated(model, "argocd/web.yaml")
    namespaces = {name: e.build.default_namespace for name, e in made.items()}
    assert namespaces == {
        "web-in-cluster": "web-main-in-cluster",  # the default, no Secret needed
        "web-prod_eu": "web-stable-prod_eu",  # the list element's value wins
        "web-staging": "web-main-staging",
    }


def test_generators_drawing_on_the_cluster_are_named_in_notes(tmp_path: Path) -> None:
    model = apps.read(fleet(tmp_path / "repo"), repo_url=URL)
    notes = [n for n in model.notes if n.startswith("argocd/previews.yaml")]
    assert [n.split(": ")[2].split(" generator")[0] for n in notes] == [
        "pullRequest",
        "scmProvider",
        "plugin",
        "clusterDecisionResource",
    ]
    assert generated(model, "argocd/previews.yaml") == {}


def with_set(tmp_path: Path, name: str, spec: str) -> dict[str, apps.EntryPoint]:
    """The Applications of one more ApplicationSet (``spec``) in the fleet."""
    root = fleet(tmp_path / "repo")
    (root / f"argocd/{name}.yaml").write_text(
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\n"
        f"metadata: {{name: {name}}}\nspec:\n{spec}"
    )
    return generated(apps.read(root, repo_url=URL), f"argocd/{name}.yaml")


def test_a_matrix_child_uses_the_parameters_of_the_first(tmp_path: Path) -> None:
    made = with_set(
        tmp_path,
        "teams",
        "  generators:\n    - matrix:\n        generators:\n"
        "          - list:\n              elements: [{team: platform, folder: addons}]\n"
        "          - git:\n              repoURL: " + URL + "\n"
        "              directories: [{path: '{{folder}}/*'}, {path: addons/ingress-nginx,"
        " exclude: true}]\n"
        "  template:\n    metadata: {name: '{{team}}-{{path.basename}}'}\n"
        "    spec:\n      source: {repoURL: " + URL + ", path: '{{path}}'}\n"
        "      destination: {namespace: '{{team}}'}\n",
    )
    assert {n: (e.path, e.build.default_namespace) for n, e in made.items()} == {
        "platform-cert-manager": ("addons/cert-manager", "platform")
    }


def test_a_generators_selector_and_own_template(tmp_path: Path) -> None:
    made = with_set(
        tmp_path,
        "regions",
        "  goTemplate: true\n  generators:\n"
        "    - list:\n        elements:\n"
        "          - {region: eu, tier: gold}\n          - {region: us, tier: bronze}\n"
        "        template:\n          metadata: {}\n"
        "          spec:\n            destination: {namespace: 'web-{{.tier}}'}\n"
        "      selector:\n        matchExpressions:\n"
        "          - {key: tier, operator: NotIn, values: [bronze]}\n"
        "    - 'not a generator'\n"
        "  template:\n    metadata: {name: 'web-{{.region}}'}\n"
        "    spec:\n      source: {repoURL: " + URL + ", path: apps/web}\n"
        "      destination: {namespace: default, server: https://kubernetes.default.svc}\n",
    )
    assert {n: e.build.default_namespace for n, e in made.items()} == {"web-eu": "web-gold"}


def test_nothing_generated_is_dropped_silently(tmp_path: Path) -> None:
    made = with_set(
        tmp_path,
        "gaps",
        "  generators:\n"
        "    - clusters: {selector: {matchLabels: {env: qa}}}\n"
        "    - list: {elements: [{app: web, dir: apps/web}, {app: api}]}\n"
        "    - git: {repoURL: " + URL + ", directories: [{path: 'aps/*'}]}\n"
        "  template:\n    metadata: {name: '{{app}}'}\n"
        "    spec:\n      source: {repoURL: " + URL + ", path: '{{dir}}'}\n"
        "      destination: {namespace: '{{app}}'}\n",
    )
    assert list(made) == ["web"]
    notes = [n for n in apps.read(tmp_path / "repo", repo_url=URL).notes if "gaps" in n]
    assert notes == [
        "argocd/gaps.yaml: ApplicationSet gaps: clusters generator: no cluster Secret in the"
        " repo matches its selector; clusters known only to Argo CD are not seen here",
        "argocd/gaps.yaml: ApplicationSet gaps: Application api: no generator gives {{dir}}",
        "argocd/gaps.yaml: ApplicationSet gaps: git generator: nothing in the repo matches aps/*",
    ]


def test_git_directories_match_as_go_path_match(tmp_path: Path) -> None:
    """``*`` stays within one folder name (Argo CD matches with Go's ``path.Match``): a
    folder below an addon is no addon of its own."""
    (tmp_path / "repo/addons/cert-manager/templates").mkdir(parents=True)
    (tmp_path / "repo/addons/cert-manager/templates/x.yaml").write_text("a: b\n")
    made = with_set(
        tmp_path,
        "globs",
        "  goTemplate: true\n  generators:\n"
        "    - git:\n        repoURL: " + URL + "\n"
        "        directories: [{path: 'addons/*'}, {path: 'addons/[^c]*', exclude: true}]\n"
        "  template:\n    metadata: {name: '{{.path.basename}}'}\n"
        "    spec:\n      source: {repoURL: " + URL + ", path: '{{.path.path}}'}\n"
        "      destination: {namespace: '{{.path.basename}}'}\n",
    )
    assert sorted(made) == ["cert-manager"]


def test_path_param_prefix_in_the_plain_style(tmp_path: Path) -> None:
    made = with_set(
        tmp_path,
        "prefixed",
        "  generators:\n"
        "    - git:\n        repoURL: " + URL + "\n        pathParamPrefix: addon\n"
        "        directories: [{path: 'addons/*'}]\n"
        "  template:\n    metadata: {name: '{{addon.path.basename}}'}\n"
        "    spec:\n      source: {repoURL: " + URL + ", path: '{{addon.path}}'}\n"
        "      destination: {namespace: '{{addon.path[0]}}'}\n",
    )
    assert {n: (e.path, e.build.default_namespace) for n, e in made.items()} == {
        "cert-manager": ("addons/cert-manager", "addons"),
        "ingress-nginx": ("addons/ingress-nginx", "addons"),
    }
