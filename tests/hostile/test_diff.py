"""Hostile files in a config repo's pull request, to ``diff``, generated.

The head commit adds one hostile file; diff ends within the harness's bounds with exit 0
or 2, one error line naming the file, no traceback and nothing written in the repo.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from gitops_actions import git
from hostile import judge, run
from hostile.test_yaml import CONFIG_MAP, billion_laughs

# path in the repo -> (content, words the error line holds; "" when diff must succeed)
FILES: dict[str, tuple[str, Callable[[], bytes], str]] = {
    "billion laughs": ("app/bomb.yaml", billion_laughs, "excessive aliasing"),
    "a list nested 900 deep": (
        "app/deep.yaml",
        lambda: b"a:\n" + b"".join(b" " * i + b"- \n" for i in range(900)),
        "nesting deeper than 200 levels",
    ),
    "a million {} documents": (
        "app/many.yaml",
        lambda: b"---\n{}\n" * 1_000_000,
        "more than 10000 documents",
    ),
    "UTF-16": ("app/wide.yaml", lambda: CONFIG_MAP.format(name="w").encode("utf-16"), "UTF-16"),
    "JSON with comments under .vscode": (
        ".vscode/settings.json",
        lambda: b'{\n  // editor settings\n  "yaml.schemas": {},\n}\n',
        "",
    ),
    "an anchor defined again": (
        "app/anchors.yaml",
        lambda: (
            b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: &n a}\ndata: {x: &n b, y: *n}\n"
        ),
        "",
    ),
    "a kustomization pointing outside the repo": (
        "other/kustomization.yaml",
        lambda: b"resources: [../../outside.yaml]\n",
        "outside the repository",
    ),
    # kustomize reads these fields as lists: any other shape is its error, never a crash
    "a kustomization's resources as a string": (
        "other/kustomization.yaml",
        lambda: b"resources: ../app\n",
        "cannot unmarshal string",
    ),
    "a kustomization's resources as a number": (
        "other/kustomization.yaml",
        lambda: b"resources: 5\n",
        "cannot unmarshal number",
    ),
    "a kustomization's generators as a string": (
        "other/kustomization.yaml",
        lambda: b"configMapGenerator: abc\nsecretGenerator: [abc]\n",
        "cannot unmarshal string",
    ),
    "a kustomization including itself": (
        "other/kustomization.yaml",
        lambda: b"resources: [../other]\n",
        "cannot render",
    ),
    "a YAML 1.1 value scalar": (
        "app/route.yaml",
        lambda: b"apiVersion: example.com/v1\nkind: Route\nmetadata: {name: r}\nspec: {match: =}\n",
        "",
    ),
}


@pytest.mark.parametrize("case", sorted(FILES))
def test_diff(case: str, tmp_path: Path) -> None:
    path, make, words = FILES[case]
    (tmp_path / "outside.yaml").write_text(CONFIG_MAP.format(name="outside"))
    repo = git.init(tmp_path / "repo")
    (repo.path / "app").mkdir()
    (repo.path / "app" / "cm.yaml").write_text(CONFIG_MAP.format(name="app"))
    repo.add()
    repo.commit("initial")
    (repo.path / path).parent.mkdir(parents=True, exist_ok=True)
    (repo.path / path).write_bytes(make())
    repo.add()
    repo.commit("hostile")
    report = tmp_path / "diff.json"
    result = run("diff", "--repo", ".", "--all", "--format", f"json={report}", cwd=repo.path)
    judge(result, codes=(0, 2))
    if words:
        assert result.code == 2, result.stderr
        assert words in result.stderr and path.split("/")[0] in result.stderr
        assert not report.exists()
    else:
        assert result.code == 0, result.stderr
        rendered = json.loads(report.read_text())["rendered"]
        assert rendered == ["app"]
