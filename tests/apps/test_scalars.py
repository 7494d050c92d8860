"""A Flux-generated kustomization reads and writes scalars as Flux does: kustomize's
reading, then ``postBuild`` substitution on its output, read back by the API server's rules.
Held against ``kubectl kustomize`` for every YAML 1.1-sensitive scalar, quoted and plain."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_kustomize import SENSITIVE, _fields, key

from gitops_actions import apps
from gitops_actions.proc import run
from gitops_actions.yamlread import dump, loader

from support import need

pytestmark = pytest.mark.component

WIDGET = (
    "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"
    '  labels:\n    app: "${APP}"\nspec:\n  substituted: ${APP}\n' + _fields("  ")
)
PATCH = (
    '[{patch: \'[{"op": "add", "path": "/metadata/labels/patched", "value": "1e3"}]\','
    " target: {kind: Widget}}]"
)


def flux_repo(root: Path, extra: str) -> Path:
    (root / "apps" / "web").mkdir(parents=True)
    (root / "apps" / "web" / "widget.yaml").write_text(WIDGET)
    (root / "clusters").mkdir()
    (root / "clusters" / "web.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: web, namespace: flux-system}\n"
        "spec:\n  path: ./apps/web\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
        "  postBuild: {substitute: {APP: 'on'}}\n" + extra
    )
    return root


def as_flux(folder: Path, extra: str) -> list[str]:
    """``kubectl kustomize`` of the kustomization Flux generates, substituted as Flux does
    (on the YAML text, then read by the API server's rules)."""
    if shutil.which("kubectl") is None:
        need("kubectl is not installed")
    (folder / "kustomization.yaml").write_text("resources: [widget.yaml]\n" + extra)
    out = run(["kubectl", "kustomize", str(folder)]).stdout.replace("${APP}", "on")
    return sorted(key(d) for d in loader.read_values(out, "kubectl output") if d)


@pytest.mark.parametrize(
    ("extra", "renderer"), [("", "in-process"), (f"  patches: {PATCH}\n", "kubectl kustomize")]
)
def test_flux_generated_path_renders_scalars_as_flux_does(
    extra: str, renderer: str, tmp_path: Path
) -> None:
    repo = flux_repo(tmp_path / "repo", extra)
    [entry] = [
        e for e in apps.read(repo, repo_url="https://example.test/x").entries if e.kind == "flux"
    ]
    assert entry.build.generated
    done = apps.render(repo, entry, tmp_path)
    assert done.error == "" and done.renderer.endswith(renderer.split()[-1])
    theirs = as_flux(tmp_path / "repo" / "apps" / "web", extra.replace("  patches", "patches"))
    assert sorted(map(key, done.resources)) == theirs
    [widget] = done.resources
    spec, index = widget["spec"], SENSITIVE.index
    # Flux substitutes kustomize's output text, where the quotes are gone: `on` is true
    assert widget["metadata"]["labels"]["app"] is True and spec["substituted"] is True
    for text in ("0o644", "1e3", "y", "1:20", "=", "0755", "1_000"):
        assert spec[f"double{index(text)}"] == text  # a string stays one through postBuild
    assert spec[f"plain{index('0o644')}"] == 420 and spec[f"plain{index('on')}"] == "on"
    if extra:
        assert widget["metadata"]["labels"]["patched"] == "1e3"


def test_the_dump_is_read_back_unchanged_by_both_rules() -> None:
    values = {f"k{i}": text for i, text in enumerate(SENSITIVE)}
    text = dump.dump(values)
    for kustomize in (False, True):
        [read] = [d.value for d in loader.documents(text, kustomize=kustomize)]
        assert read == values
