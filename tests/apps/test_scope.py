"""The entry points a change reaches, told without discovering the whole repo: always the
ones full discovery gives, or no answer (then diff discovers everything)."""

from __future__ import annotations

import posixpath
import random
import shutil
from pathlib import Path

import pytest

from gitops_actions import apps, kustomize
from gitops_actions.diff.tree import DiskTree, changed_paths

DEPLOY = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"


def write(root: Path, files: dict[str, str]) -> None:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)


def same(path: str, old: bytes, new: bytes) -> bool:
    """As diff asks: a kustomization edited only where discovery does not look."""
    name = path.rpartition("/")[2]
    return name in kustomize.KUSTOMIZATION_FILES and kustomize.same_inputs(old, new, path)


def trees(tmp_path: Path, files: dict[str, str], edits: dict[str, str]) -> tuple[DiskTree, ...]:
    base, head = tmp_path / "base", tmp_path / "head"
    for root in (base, head):
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        write(root, files)
    write(head, edits)
    return DiskTree(base), DiskTree(head)


def full(base: DiskTree, head: DiskTree) -> list[tuple[str, tuple[str, ...]]]:
    """What full discovery says the change reaches."""
    model = apps.discover(head)
    return sorted((e.name, e.inputs) for e in model.affected(changed_paths(base, head)))


def scoped(base: DiskTree, head: DiskTree) -> list[tuple[str, tuple[str, ...]]] | None:
    found = apps.reached(head, base, changed_paths(base, head), same=same)
    return None if found is None else sorted((e.name, e.inputs) for e in found)


def overlays(apps_: int = 3) -> dict[str, str]:
    files = {}
    for n in range(apps_):
        app = f"apps/app{n}"
        files[f"{app}/base/deployment.yaml"] = DEPLOY.format(name=f"app{n}")
        files[f"{app}/base/kustomization.yaml"] = "resources:\n  - deployment.yaml\n"
        for env in ("dev", "prod"):
            files[f"{app}/overlays/{env}/kustomization.yaml"] = (
                f"resources:\n  - ../../base\nnamespace: app{n}-{env}\nimages:\n"
                f"  - name: registry.example.com/app{n}\n    newTag: 1.0.0\n"
            )
    return files


def check(tmp_path: Path, files: dict[str, str], edits: dict[str, str]) -> list[str] | None:
    """The names reached (the same as full discovery's), or None when not told."""
    base, head = trees(tmp_path, files, edits)
    found = scoped(base, head)
    if found is not None:
        assert found == full(base, head)
        return [name for name, _ in found]
    return None


def bump(files: dict[str, str], path: str) -> dict[str, str]:
    return {path: files[path].replace("newTag: 1.0.0", "newTag: 1.0.1")}


def test_an_overlay_bump_reaches_its_overlay_only(tmp_path: Path) -> None:
    files = overlays()
    edits = bump(files, "apps/app1/overlays/prod/kustomization.yaml")
    assert check(tmp_path, files, edits) == ["apps/app1/overlays/prod"]


def test_a_base_edit_reaches_every_overlay_of_it(tmp_path: Path) -> None:
    files = overlays()
    edits = {"apps/app2/base/deployment.yaml": DEPLOY.format(name="renamed")}
    assert check(tmp_path, files, edits) == ["apps/app2/overlays/dev", "apps/app2/overlays/prod"]


def test_a_kustomization_two_levels_away_including_the_folder_through_dot_dots(
    tmp_path: Path,
) -> None:
    files = overlays()
    # clusters/prod/all includes app0's overlay; the overlay includes the base
    files["clusters/prod/all/kustomization.yaml"] = (
        "resources:\n  - ../../../apps/app0/overlays/prod\n  - ../../../apps/app1/overlays/prod\n"
    )
    edits = {"apps/app0/base/deployment.yaml": DEPLOY.format(name="renamed")}
    assert check(tmp_path, files, edits) == ["apps/app0/overlays/dev", "clusters/prod/all"]


def test_an_overlay_below_its_base_including_it_by_dot_dots(tmp_path: Path) -> None:
    files = {
        "web/deployment.yaml": DEPLOY.format(name="web"),
        "web/kustomization.yaml": "resources: [deployment.yaml]\n",
        "web/overlays/prod/kustomization.yaml": "resources:\n- ../..\nnamePrefix: prod-\n",
        "web/overlays/dev/kustomization.yaml": "resources: ['../../']\n",
        "web/overlays/qa/kustomization.yaml": "resources:\n- ../../../web  # the same\n",
        "api/deployment.yaml": DEPLOY.format(name="api"),
        "api/kustomization.yaml": "resources: [deployment.yaml]\n",
    }
    edits = {"web/deployment.yaml": DEPLOY.format(name="web2")}
    assert check(tmp_path, files, edits) == [
        "web/overlays/dev",
        "web/overlays/prod",
        "web/overlays/qa",
    ]


@pytest.mark.parametrize(
    "reference",
    [
        '"../../../../components/common"',
        "'../../../../components/common/'",
        "../../../../components/./common",
        "../../../../components/x/../common",
        '"..\\x2F..\\x2F..\\x2F..\\x2Fcomponents\\x2Fcommon"',  # escapes: always parsed
    ],
)
def test_a_component_reaches_every_app_using_it(tmp_path: Path, reference: str) -> None:
    files = overlays(4)
    files["components/common/kustomization.yaml"] = (
        "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n"
        "commonLabels:\n  team: core\n"
    )
    for n in (0, 2, 3):
        path = f"apps/app{n}/overlays/prod/kustomization.yaml"
        files[path] += f"components:\n  - {reference}\n"
    edits = {"components/common/kustomization.yaml": "kind: Component\nresources: [cm.yaml]\n"}
    files["components/common/cm.yaml"] = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n"
    assert check(tmp_path, files, edits) is None  # its references changed: discover
    edits = {"components/common/cm.yaml": files["components/common/cm.yaml"] + "data: {a: b}\n"}
    files["components/common/kustomization.yaml"] += "resources: [cm.yaml]\n"
    assert check(tmp_path, files, edits) == [f"apps/app{n}/overlays/prod" for n in (0, 2, 3)]


@pytest.mark.parametrize(
    "extra",
    [
        "patches:\n  - path: ../../../../shared/patch.yaml\n",
        "configMapGenerator:\n  - name: c\n    files: [../../../../shared/patch.yaml]\n",
        "configMapGenerator:\n  - name: c\n    files: [key=../../../../shared/patch.yaml]\n",
        "patchesStrategicMerge: [../../../../shared]\n",
    ],
)
def test_files_a_kustomization_reads_beyond_resources(tmp_path: Path, extra: str) -> None:
    files = overlays()
    files["shared/patch.yaml"] = DEPLOY.format(name="app1")
    files["apps/app1/overlays/prod/kustomization.yaml"] += extra
    edits = {"shared/patch.yaml": DEPLOY.format(name="app1") + "spec: {replicas: 3}\n"}
    assert check(tmp_path, files, edits) == ["apps/app1/overlays/prod"]


def test_a_flux_kustomization_pointing_at_the_folder_is_left_to_full_discovery(
    tmp_path: Path,
) -> None:
    files = overlays()
    files["clusters/prod/app1.yaml"] = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata:\n  name: app1\n  namespace: flux-system\n"
        "spec:\n  path: ./apps/app1/overlays/prod\n  sourceRef:\n"
        "    kind: GitRepository\n    name: flux-system\n"
    )
    edits = bump(files, "apps/app1/overlays/prod/kustomization.yaml")
    base, head = trees(tmp_path, files, edits)
    assert scoped(base, head) is None
    assert [n for n, _ in full(base, head)] == ["clusters/prod/app1.yaml#flux-system/app1"]


def test_an_appset_git_generator_picking_up_a_new_folder_is_left_to_full_discovery(
    tmp_path: Path,
) -> None:
    files = overlays()
    files["argocd/appset.yaml"] = (
        "apiVersion: argoproj.io/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: apps\n"
        "spec:\n  generators:\n    - git:\n        repoURL: https://example.com/config.git\n"
        "        directories:\n          - path: apps/*/overlays/prod\n"
        "  template:\n    metadata:\n      name: '{{path.basename}}'\n    spec:\n"
        "      source:\n        repoURL: https://example.com/config.git\n"
        "        path: '{{path}}'\n      destination:\n        namespace: default\n"
    )
    edits = {"apps/app9/overlays/prod/kustomization.yaml": "resources: []\n"}
    base, head = trees(tmp_path, files, edits)
    assert scoped(base, head) is None


@pytest.mark.parametrize(
    "files, edits",
    [
        # a file added
        (overlays(), {"apps/app0/base/new.yaml": DEPLOY.format(name="new")}),
        # a cycle: what a closure holds depends on where it is first reached
        (
            {
                "a/kustomization.yaml": "resources: [../b, x.yaml]\n",
                "a/x.yaml": DEPLOY.format(name="x"),
                "b/kustomization.yaml": "resources: [../a]\n",
                "c/kustomization.yaml": "resources: [../a]\n",
            },
            {"a/x.yaml": DEPLOY.format(name="y")},
        ),
        # a kustomization taking its own folder (a cycle) holds a file another root reaches
        (
            {
                "apps/x/kustomization.yaml": "resources:\n  - .\n",
                "apps/x/f.yaml": DEPLOY.format(name="f"),
                "other/kustomization.yaml": "resources: [../apps/x/f.yaml]\n",
            },
            {"apps/x/f.yaml": DEPLOY.format(name="g")},
        ),
        # a root taking a whole folder that holds another root
        (
            {
                "all/kustomization.yaml": "resources: [../apps]\n",
                "apps/web/kustomization.yaml": "resources: [d.yaml]\n",
                "apps/web/d.yaml": DEPLOY.format(name="web"),
            },
            {"apps/web/d.yaml": DEPLOY.format(name="web2")},
        ),
        # a plain manifest no kustomization reaches
        ({**overlays(), "loose/cm.yaml": "kind: ConfigMap\n"}, {"loose/cm.yaml": "kind: X\n"}),
        # a generator entry that YAML reads as a number: str() of it is what is included
        (
            {
                "k/kustomization.yaml": "configMapGenerator:\n- name: c\n  files: [0x10]\n",
                "k/16": "a",
            },
            {"k/16": "b"},
        ),
        # a chart in the repo
        (
            {**overlays(), "charts/x/Chart.yaml": "name: x\n"},
            bump(overlays(), "apps/app1/overlays/prod/kustomization.yaml"),
        ),
    ],
)
def test_what_cannot_be_told_is_left_to_full_discovery(
    tmp_path: Path, files: dict[str, str], edits: dict[str, str]
) -> None:
    base, head = trees(tmp_path, files, edits)
    assert scoped(base, head) is None


NAMES = ["a", "b", "base", "prod", "x"]


def random_repo(rng: random.Random) -> dict[str, str]:
    """A small repo of kustomizations referring to one another every way they can."""
    folders = sorted(
        {
            "/".join(rng.choice(NAMES) for _ in range(rng.randint(1, 3)))
            for _ in range(rng.randint(2, 7))
        }
    )
    files: dict[str, str] = {}
    for folder in folders:
        files[f"{folder}/r.yaml"] = DEPLOY.format(name=folder.replace("/", "-"))
    paths = [*folders, *files, "."]
    for folder in folders:
        if rng.random() < 0.2:
            continue  # a folder without a kustomization
        refs = []
        for _ in range(rng.randint(0, 3)):
            target = rng.choice(paths)
            ref = posixpath.relpath(target, folder)
            style = rng.random()
            if style < 0.15:
                ref = f"./{ref}/"
            elif style < 0.3:
                ref = f'"{ref}"'
            elif style < 0.35:
                ref = f"{ref}/../{posixpath.basename(ref)}"
            elif style < 0.6:  # up to the top, and down again
                ref = "/".join([".."] * (folder.count("/") + 1) + [target])
            refs.append(ref)
        refs.append("r.yaml")
        key = rng.choice(["resources", "components", "bases"])
        text = f"{key}:\n" + "".join(f"  - {r}\n" for r in refs)
        if rng.random() < 0.2:
            text = f"{key}: [{', '.join(refs)}]\n"
        if rng.random() < 0.1:
            text += "kind: Component\n"
        files[f"{folder}/kustomization.yaml"] = text + "images:\n  - name: i\n    newTag: '1'\n"
    return files


def test_a_string_where_a_list_belongs_names_nothing(tmp_path: Path) -> None:
    """kustomize refuses ``resources: ../base``; it names no folder, not its characters
    (a "." among them would be the kustomization's own folder, taken whole)."""
    files = {
        "apps/x/kustomization.yaml": "resources: ../base\n",
        "apps/x/sub/f.yaml": DEPLOY.format(name="f"),
        "apps/x/sub/kustomization.yaml": "resources: [f.yaml]\n",
    }
    assert check(tmp_path, files, {"apps/x/sub/f.yaml": DEPLOY.format(name="g")}) == ["apps/x/sub"]


def test_random_repos_reach_what_full_discovery_reaches(tmp_path: Path) -> None:
    rng = random.Random(10)
    told = 0
    for case in range(150):
        files = random_repo(rng)
        path = rng.choice(sorted(files))
        if path.endswith("kustomization.yaml"):
            edits = {path: files[path].replace("newTag: '1'", "newTag: '2'")}
        else:
            edits = {path: files[path] + "  labels: {changed: 'yes'}\n"}
        if check(tmp_path / str(case), files, edits) is not None:
            told += 1
    assert told > 25  # many changes are told without full discovery
