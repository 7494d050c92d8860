"""Hostile YAML (and JSON) to the readers: validate and bump, generated.

Each case ends within the harness's time and memory bounds with exit 0, 1 or 2, one error
line when it fails, no traceback and nothing written.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from hostile import judge, run

CONFIG_MAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  k: v\n"


def billion_laughs() -> bytes:
    levels = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, 10):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return ("\n".join(levels) + "\n").encode()


def deep_crd(levels: int) -> bytes:
    schema: dict[str, object] = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "object", "properties": {"a": schema}}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"kind": "Widget", "plural": "widgets"},
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {"type": "object", "properties": {"spec": schema}}
                    },
                }
            ],
        },
    }
    return json.dumps(crd).encode()


# file name -> (content, the words the one error line must hold; "" when it must not fail)
FILES: dict[str, tuple[Callable[[], bytes], str]] = {
    "billion laughs": (billion_laughs, "excessive aliasing"),
    "a list nested 900 deep": (
        lambda: b"a:\n" + b"".join(b" " * i + b"- \n" for i in range(900)),
        "nesting deeper than 200 levels",
    ),
    "a flow list nested 900 deep": (
        lambda: b"a: " + b"[" * 900 + b"]" * 900,
        "nesting deeper than 200 levels",
    ),
    "JSON nested 900 deep": (
        lambda: b'{"a":' * 900 + b"1" + b"}" * 900,
        "nesting deeper than 200 levels",
    ),
    "a CRD schema 150 levels deep": (lambda: deep_crd(150), "nesting deeper than 200 levels"),
    "a million {} documents": (lambda: b"---\n{}\n" * 1_000_000, "more than 10000 documents"),
    "UTF-16 with a byte order mark": (
        lambda: CONFIG_MAP.format(name="u").encode("utf-16"),
        "UTF-16 text, not UTF-8",
    ),
    "UTF-16 without one": (
        lambda: CONFIG_MAP.format(name="u").encode("utf-16-be"),
        "UTF-16 text, not UTF-8",
    ),
    "UTF-32": (lambda: CONFIG_MAP.format(name="u").encode("utf-32"), "UTF-32 text, not UTF-8"),
    "an anchor defined again": (
        lambda: (
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: &n a}\ndata: {x: &n b, y: *n}\n"
        ),
        "",
    ),
    "an undefined alias": (lambda: b"a: *nowhere\n", "found undefined alias"),
    "a huge key": (lambda: b"k" * 5_000_000 + b": 1\n", "larger than the 4 MiB limit"),
}


def _place(root: Path, name: str, data: bytes) -> str:
    suffix = ".json" if data[:1] == b"{" and b"CustomResourceDefinition" in data[:200] else ".yaml"
    file = root / ("case" + suffix)
    file.write_bytes(data)
    (root / "ok.yaml").write_text(CONFIG_MAP.format(name="fine"))
    return file.name


@pytest.mark.parametrize("case", sorted(FILES))
def test_validate(case: str, tmp_path: Path) -> None:
    make, words = FILES[case]
    name = _place(tmp_path, case, make())
    result = run("validate", ".", "--ignore-missing-schemas", cwd=tmp_path)
    judge(result)
    if words:
        assert result.code == 2 and words in result.stderr, result.stderr
        assert name in result.stderr
    else:
        assert result.code == 0, result.stderr


# bump parses the files that mention the image: (content, exit code, words in the error)
BUMP: dict[str, tuple[bytes, int, str]] = {
    "billion laughs": (b"# r.test/app:1\n" + billion_laughs(), 1, "nothing in . references"),
    "a list nested 900 deep": (
        b"# r.test/app:1\na:\n" + b"".join(b" " * i + b"- \n" for i in range(900)),
        2,
        "nesting deeper than 200 levels",
    ),
    "a flow list nested 900 deep": (
        b"# r.test/app:1\na: " + b"[" * 900 + b"]" * 900,
        2,
        "nesting deeper than 200 levels",
    ),
    "an anchor defined again": (
        b"containers:\n- {name: &n a, image: r.test/app:1}\n- {name: &n b, image: x}\nref: *n\n",
        0,
        "",
    ),
    "an undefined alias": (b"image: r.test/app:1\nref: *nowhere\n", 2, "found undefined alias"),
}


@pytest.mark.parametrize("case", sorted(BUMP))
def test_bump(case: str, tmp_path: Path) -> None:
    data, code, words = BUMP[case]
    (tmp_path / "case.yaml").write_bytes(data)
    result = run(
        "bump", "--repo", ".", "--no-commit", "--image", "r.test/app:2", cwd=tmp_path, watch=()
    )
    judge(result, writes=code == 0)
    assert result.code == code, result.stderr
    assert words in result.stderr
    if code == 0:
        assert b"image: r.test/app:2}" in (tmp_path / "case.yaml").read_bytes()


def test_a_fifo_named_like_a_manifest_is_not_waited_on(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(CONFIG_MAP.format(name="fine"))
    os.mkfifo(tmp_path / "x.yaml")
    result = run("validate", ".", cwd=tmp_path, seconds=20)
    judge(result)
    assert result.code == 2 and "x.yaml" in result.stderr and "not a regular file" in result.stderr


def test_a_huge_kubernetes_version(tmp_path: Path) -> None:
    (tmp_path / "ok.yaml").write_text(CONFIG_MAP.format(name="fine"))
    result = run("validate", ".", "--kubernetes-version", "1." + "1" * 5000, cwd=tmp_path)
    judge(result)
    assert result.code == 2 and "expected MAJOR.MINOR" in result.stderr


def test_a_kustomization_pointing_outside_the_repo(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text(CONFIG_MAP.format(name="outside"))
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "kustomization.yaml").write_text("resources: [../../outside.yaml]\n")
    result = run("validate", ".", cwd=repo)
    judge(result)
    assert result.code == 2, result.stderr
    assert "app" in result.stderr


@pytest.mark.parametrize(
    "text",
    [
        "resources: ../app\n",
        "resources: 5\n",
        "resources: {a: b}\n",
        "replicas: 5\n",
        "namespace: [a]\n",
        "configMapGenerator: abc\n",
        "secretGenerator: [abc]\n",
        "helmCharts: [x]\n",
        "configMapGenerator: [{name: x, files: 3}]\n",
        "resources: [../other]\n",
        "patches: 5\n",
        "patchesStrategicMerge: abc\n",
        "configurations: 5\n",
        "openapi: 5\n",
        "helmCharts: 5\n",
    ],
)
def test_a_kustomization_of_the_wrong_shape(text: str, tmp_path: Path) -> None:
    """Fields kustomize reads as lists, holding something else, or a kustomization that
    includes itself: kustomize's own error, naming the file, never a crash or a hang."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "cm.yaml").write_text(CONFIG_MAP.format(name="app"))
    (tmp_path / "app" / "kustomization.yaml").write_text("resources: [cm.yaml]\n")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "kustomization.yaml").write_text(text)
    result = run("validate", ".", cwd=tmp_path)
    judge(result)
    assert result.code == 2, result.stderr
    assert "other/kustomization.yaml" in result.stderr and "cannot render" in result.stderr
