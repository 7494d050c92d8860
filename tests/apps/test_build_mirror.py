"""Building an entry point from a mirror of the repo (a Flux Kustomization with patches)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gitops_actions import apps

from support import need

FLUX = """\
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: app, namespace: flux-system}
spec:
  interval: 10m
  path: ./apps/app
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
  patches:
  - target: {kind: ConfigMap}
    patch: '[{"op": "add", "path": "/metadata/labels", "value": {"patched": "yes"}}]'
"""
CM = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata: {{a: b}}\n"
LEAK = "OUTSIDE-CANARY-7f3a"


@pytest.fixture(autouse=True)
def kubectl() -> None:
    if shutil.which("kubectl") is None:
        need("kubectl (with kustomize) is not installed")


def repo(tmp_path: Path, kustomization: str) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "leak.yaml").write_text(CM.format(name="leaked").replace("a: b", f"a: {LEAK}"))
    root = tmp_path / "repo"
    app = root / "apps/app"
    (app / "sub").mkdir(parents=True)
    (root / "flux.yaml").write_text(FLUX)
    (app / "kustomization.yaml").write_text(kustomization)
    (app / "ok.yaml").write_text(CM.format(name="inside"))
    (root / "shared").mkdir()
    (root / "shared/cm.yaml").write_text(CM.format(name="shared"))
    return root


def render(root: Path, tmp_path: Path) -> apps.Rendered:
    [entry] = [e for e in apps.read(root).entries if e.kind == "flux"]
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    done = apps.render(root, entry, scratch)
    assert done.renderer == "kustomize" or done.error, done  # built from the mirror
    return done


def names(done: apps.Rendered) -> list[str]:
    return sorted(str(r["metadata"]["name"]) for r in done.resources)


@pytest.mark.parametrize(
    "kustomization, where",
    [
        ("resources: [ok.yaml, sub]\n", "sub/leak.yaml"),
        ("resources: [ok.yaml, sub/leak.yaml]\n", "sub/leak.yaml"),
        ("resources: [ok.yaml]\nconfigMapGenerator:\n- {name: g, files: [sub/leak.yaml]}\n",
         "sub/leak.yaml"),
        ("resources: [ok.yaml, sub]\n", "sub/deeper/leak.yaml"),
    ],
)  # fmt: skip
def test_a_symlink_below_the_folder_is_never_followed_out_of_the_repo(
    tmp_path: Path, kustomization: str, where: str
) -> None:
    root = repo(tmp_path, kustomization)
    sub = root / "apps/app/sub"
    (sub / "kustomization.yaml").write_text("resources: [leak.yaml]\n")
    (root / "apps/app" / where).parent.mkdir(parents=True, exist_ok=True)
    (root / "apps/app" / where).symlink_to(tmp_path / "outside/leak.yaml")
    if where.count("/") > 1:
        (sub / "kustomization.yaml").write_text("resources: [deeper]\n")
        (sub / "deeper/kustomization.yaml").write_text("resources: [leak.yaml]\n")

    done = render(root, tmp_path)

    shown = f"{done.text} {done.resources} {done.error}"
    assert LEAK not in shown and "leaked" not in names(done), shown
    assert done.error  # the link is left out of the mirror, so kustomize cannot find it
    assert not any(p.is_symlink() for p in (tmp_path / "scratch").rglob("leak.yaml")), list(
        (tmp_path / "scratch").rglob("*")
    )


def test_symlinks_within_the_repo_still_build(tmp_path: Path) -> None:
    root = repo(tmp_path, "resources: [ok.yaml, sub, linked]\n")
    sub = root / "apps/app/sub"
    (sub / "kustomization.yaml").write_text("resources: [shared.yaml]\n")
    (sub / "shared.yaml").symlink_to("../../../shared/cm.yaml")
    (root / "apps/app/linked").symlink_to("../../shared")
    (root / "shared/kustomization.yaml").write_text("resources: [cm.yaml]\nnameSuffix: -copy\n")
    (sub / "gone.yaml").symlink_to(tmp_path / "outside/leak.yaml")  # a way out, unused

    done = render(root, tmp_path)

    assert not done.error, done.error
    assert names(done) == ["inside", "shared", "shared-copy"]
    assert all(r["metadata"]["labels"] == {"patched": "yes"} for r in done.resources)
