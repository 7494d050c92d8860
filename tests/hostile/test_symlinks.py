"""Symlinks committed to a config tree never make a step read outside it.

Generated layouts put a symlink to a file or directory outside the tree where each reader
looks: a plain manifest, a directory of manifests, a kustomization's resource, the
kustomization itself, a ``--crd`` directory, an Argo CD directory source, a loop and a
dangling link. validate, diff and bump run over each, bounded; what lies outside (a
resource named ``outside-leaked``, holding a canary secret) never shows in any output,
and no file outside is touched.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gitops_actions import git
from gitops_actions.paths import Bounds, escapes, walk
from hostile import CANARY, judge, run

OUTSIDE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside-leaked\n"
    f"data:\n  token: {CANARY['GITHUB_TOKEN']}\n"
    "bogusField: OUTSIDE-MARKER\n"
    "---\n"
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: outside-leaked\n"
    "spec:\n  template:\n    spec:\n      containers:\n      - name: x\n        image: outside:1\n"
)
CRD = (
    "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"
    "metadata:\n  name: leaks.outside.example\n"
    "spec:\n  group: outside.example\n  names: {kind: OutsideLeaked, plural: leaks}\n"
    "  scope: Namespaced\n  versions: [{name: v1, served: true, storage: true,\n"
    "    schema: {openAPIV3Schema: {type: object}}}]\n"
)
OK = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: inside\ndata: {a: b}\n"
FLUX = (
    "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
    "metadata: {{name: f, namespace: flux-system}}\n"
    "spec:\n  interval: 10m\n  prune: true\n  path: ./{path}\n"
    "  sourceRef: {{kind: GitRepository, name: flux-system}}\n{patches}"
)
PATCHES = (
    "  patches:\n  - target: {kind: ConfigMap}\n"
    '    patch: \'[{"op": "add", "path": "/metadata/labels", "value": {}}]\'\n'
)


def link(path: Path, target: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


Layout = Callable[[Path, Path], None]  # (tree, outside)
LAYOUTS: dict[str, Layout] = {
    "plain file": lambda t, o: link(t / "apps/plain/leak.yaml", str(o / "leak.yaml")),
    "directory": lambda t, o: link(t / "apps/plain/dir", str(o / "dir")),
    "relative file": lambda t, o: link(t / "apps/plain/rel.yaml", "../../../outside/leak.yaml"),
    "kustomize resource": lambda t, o: (
        (t / "apps/kust/kustomization.yaml").write_text("resources:\n- leak.yaml\n- ok.yaml\n"),
        link(t / "apps/kust/leak.yaml", str(o / "leak.yaml")),
    ),
    "kustomize directory": lambda t, o: (
        (t / "apps/kust/kustomization.yaml").write_text("resources:\n- dir\n- ok.yaml\n"),
        link(t / "apps/kust/dir", str(o / "kdir")),
    ),
    "kustomization itself": lambda t, o: link(
        t / "apps/kust2/kustomization.yaml", str(o / "kdir/kustomization.yaml")
    ),
    "argo directory source": lambda t, o: (
        (t / "argo.yaml").write_text(
            "apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {name: a}\n"
            "spec:\n  source: {repoURL: 'https://example.invalid/r.git', path: apps/argo,\n"
            "    directory: {recurse: true}}\n  destination: {namespace: a}\n"
        ),
        link(t / "apps/argo/leak.yaml", str(o / "leak.yaml")),
        link(t / "apps/argo/sub", str(o / "dir")),
    ),
    "flux path without a kustomization": lambda t, o: (
        (t / "flux.yaml").write_text(FLUX.format(path="apps/flux", patches="")),
        link(t / "apps/flux/leak.yaml", str(o / "leak.yaml")),
        (t / "apps/flux/ok.yaml").write_text(OK),
    ),
    "flux path with patches": lambda t, o: (
        (t / "flux.yaml").write_text(FLUX.format(path="apps/fluxp", patches=PATCHES)),
        (t / "apps/fluxp").mkdir(parents=True),
        (t / "apps/fluxp/kustomization.yaml").write_text("resources:\n- leak.yaml\n"),
        link(t / "apps/fluxp/leak.yaml", str(o / "leak.yaml")),
    ),
    "flux path with patches, a link one level down": lambda t, o: (
        (t / "flux.yaml").write_text(FLUX.format(path="apps/fluxd", patches=PATCHES)),
        (t / "apps/fluxd/sub").mkdir(parents=True),
        (t / "apps/fluxd/kustomization.yaml").write_text("resources:\n- sub\n- ok.yaml\n"),
        (t / "apps/fluxd/ok.yaml").write_text(OK),
        (t / "apps/fluxd/sub/kustomization.yaml").write_text("resources:\n- leak.yaml\n"),
        link(t / "apps/fluxd/sub/leak.yaml", str(o / "leak.yaml")),
    ),
    "flux path with patches, a generator file one level down": lambda t, o: (
        (t / "flux.yaml").write_text(FLUX.format(path="apps/fluxg", patches=PATCHES)),
        (t / "apps/fluxg").mkdir(parents=True),
        (t / "apps/fluxg/kustomization.yaml").write_text(
            "resources:\n- ok.yaml\nconfigMapGenerator:\n- name: g\n  files:\n  - conf/leak.yaml\n"
        ),
        (t / "apps/fluxg/ok.yaml").write_text(OK),
        link(t / "apps/fluxg/conf/leak.yaml", str(o / "leak.yaml")),
    ),
    "loop": lambda t, o: (link(t / "apps/plain/a", "b"), link(t / "apps/plain/b", "a")),
    "dangling": lambda t, o: link(t / "apps/plain/gone.yaml", str(o / "nothing.yaml")),
    "the tree's parent": lambda t, o: link(t / "apps/plain/up", ".."),
}


def layout(tmp_path: Path, name: str | None) -> tuple[Path, Path]:
    """The tree and what lies outside it; the symlinks of layout ``name``, if given."""
    outside, tree = tmp_path / "outside", tmp_path / "tree"
    for rel in ("leak.yaml", "dir/leak.yaml", "kdir/leak.yaml"):
        (outside / rel).parent.mkdir(parents=True, exist_ok=True)
        (outside / rel).write_text(OUTSIDE)
    (outside / "kdir/kustomization.yaml").write_text("resources:\n- leak.yaml\n")
    (outside / "crd.yaml").write_text(CRD)
    for rel in ("apps/plain/ok.yaml", "apps/kust/ok.yaml", "apps/argo/ok.yaml", "crds/ok.yaml"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
        (tree / rel).write_text(OK)
    if name is not None:
        link(tree / "crds/leak.yaml", str(outside / "crd.yaml"))
        LAYOUTS[name](tree, outside)
    return tree, outside


def shows_outside(text: str) -> bool:
    return any(word in text for word in ("outside-leaked", "OUTSIDE-MARKER", "OutsideLeaked"))


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_validate_reads_nothing_outside_the_tree(tmp_path: Path, name: str) -> None:
    tree, outside = layout(tmp_path, name)

    result = run("validate", ".", "--crd", "crds", "--format", "json", cwd=tree, watch=[outside])

    judge(result, codes=(0, 1, 2))
    assert not shows_outside(result.stdout + result.stderr), result.stdout + result.stderr
    if result.code != 2:  # the files inside were read
        assert json.loads(result.stdout)["summary"]["resources"] >= 3


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_diff_and_bump_read_nothing_outside_the_tree(tmp_path: Path, name: str) -> None:
    tree, outside = layout(tmp_path, None)
    (tree / "apps/kust/kustomization.yaml").write_text("resources:\n- ok.yaml\n")
    repo = git.init(tree)
    repo.add()
    repo.commit("base")
    LAYOUTS[name](tree, outside)
    (tree / "apps/plain/ok.yaml").write_text(OK.replace("a: b", "a: c"))
    repo.add()
    repo.commit("head")

    diffed = run("diff", "--repo", ".", "--all", "--format", "json", cwd=tree, watch=[outside])
    bumped = run(
        "bump", "--repo", str(tree), "--image", "outside=outside:2", "--dry-run",
        cwd=tmp_path, watch=[outside],
    )  # fmt: skip

    for result in (diffed, bumped):
        judge(result, codes=(0, 1, 2))
        assert not shows_outside(result.stdout + result.stderr), result.stdout + result.stderr


def test_walk_follows_no_symlink_and_escapes_sees_through_them(tmp_path: Path) -> None:
    tree, _ = layout(tmp_path, "directory")
    link(tree / "apps/plain/inner.yaml", "ok.yaml")

    files = {
        os.path.relpath(os.path.join(folder, name), tree)
        for folder, _, names in walk(tree)
        for name in names
    }

    assert files == {"apps/plain/ok.yaml", "apps/kust/ok.yaml", "apps/argo/ok.yaml", "crds/ok.yaml"}
    assert escapes(tree, tree / "apps/plain/dir/leak.yaml")
    assert escapes(tree, tree / "crds/leak.yaml")
    assert not escapes(tree, tree / "apps/plain/inner.yaml")
    assert not escapes(tree, tree / "apps/plain/missing.yaml")


def test_bounds_sees_through_symlinks_as_escapes_does(tmp_path: Path) -> None:
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    (tree / "a/b").mkdir(parents=True)
    outside.mkdir()
    (tree / "a/b/f.yaml").write_text("a: b\n")
    os.symlink("../../../outside", tree / "a/b/leak")
    os.symlink("b", tree / "a/lb")
    os.symlink(outside / "x.yaml", tree / "a/abs.yaml")
    os.symlink("lb/f.yaml", tree / "a/rel.yaml")
    os.symlink(tree, tmp_path / "via-link")
    paths = ["a/b/f.yaml", "a/b/leak/x.yaml", "a/lb/f.yaml", "a/lb/leak", "a/abs.yaml"]
    paths += ["a/rel.yaml", "a/missing/x.yaml", "a/b/leak", "a"]
    for root in (tree, tmp_path / "via-link"):
        bounds = Bounds(root)
        found = {p: bounds.escapes(root / p) for p in paths}
        assert found == {p: escapes(root, root / p) for p in paths}
        leaving = {p for p, out in found.items() if out}
        assert leaving == {"a/b/leak/x.yaml", "a/lb/leak", "a/abs.yaml", "a/b/leak"}
