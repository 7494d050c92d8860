"""Hostile Secret shapes through diff and validate: no value shown, in any output.

Generated Secrets hold their payload as a map, a list, nested lists and maps, a scalar,
numbers, multi-line keys, quotes and non-ASCII, invalid base64 and long values; one of
each value is also copied into a ConfigMap. Each case runs bounded and is searched, as it
is, line by line and in base64, in stdout, stderr and every file written.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from gitops_actions import git
from hostile import CANARY, judge, run


def value(tag: str) -> str:
    return f"{tag}-{secrets.token_hex(8)}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


QUOTED = '"{}" é ü \\ ☃'
# how each shape holds the value: (section, payload, the value as it is after decoding)
Shape = Callable[[str], tuple[str, object, str]]
SHAPES: dict[str, Shape] = {
    "map": lambda v: ("stringData", {"key": v}, v),
    "list": lambda v: ("stringData", [v, "other-" + v], v),
    "nested": lambda v: ("stringData", {"a": [{"b": {"c": [v]}}]}, v),
    "scalar": lambda v: ("stringData", v, v),
    "data map": lambda v: ("data", {"key": b64(v)}, v),
    "data list": lambda v: ("data", [b64(v)], v),
    "data not base64": lambda v: ("data", {"key": v}, v),  # "-" is not in the alphabet
    "multi-line": lambda v: ("stringData", {"key": f"{v}\nsecond-line-{v}\n"}, v),
    "quotes and unicode": lambda v: ("stringData", {"k": QUOTED.format(v)}, QUOTED.format(v)),
    "long": lambda v: ("stringData", {"key": v * 500}, v * 500),
}


def secret_doc(name: str, section: str, payload: object) -> str:
    doc = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, section: payload}
    return json.dumps(doc)


def config_map(name: str, copied: str) -> str:
    doc = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"copied": copied, "embedded": f"url=https://u:{copied}@h/"},
    }
    return json.dumps(doc)


def repo_with(tmp_path: Path, shapes: list[str]) -> tuple[git.Repo, list[str]]:
    root = tmp_path / "config"
    (root / "apps" / "shop").mkdir(parents=True)
    (root / "apps" / "shop" / "keep.yaml").write_text("apiVersion: v1\nkind: Namespace\n")
    repo = git.init(root)
    repo.add()
    repo.commit("base")
    planted = []
    for index, shape in enumerate(shapes):
        section, payload, secret = SHAPES[shape](value(f"s{index}"))
        planted.append(secret)
        docs = [secret_doc(f"s{index}", section, payload), config_map(f"c{index}", secret)]
        (root / "apps" / "shop" / f"s{index}.yaml").write_text("\n---\n".join(docs) + "\n")
    token = root / "apps" / "shop" / "token.yaml"
    token.write_text(config_map("token", CANARY["GITHUB_TOKEN"]) + "\n")
    repo.add()
    repo.commit("head")
    return repo, planted


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_diff_shows_no_secret_value_whatever_the_shape(tmp_path: Path, shape: str) -> None:
    repo, planted = repo_with(tmp_path, [shape])
    out = tmp_path / "out"
    out.mkdir()
    formats = ["--format", f"json={out}/d.json", "--format", f"markdown={out}/d.md"]

    result = run("diff", "--repo", str(repo.path), *formats, cwd=out, watch=[repo.path])

    judge(result, codes=(0,), secrets=planted, writes=True)
    assert sorted(result.written) == [f"{out}/d.json", f"{out}/d.md"]
    assert "Secret" in (out / "d.json").read_text()


def test_diff_to_stdout_and_validate_reports_show_no_secret(tmp_path: Path) -> None:
    repo, planted = repo_with(tmp_path, sorted(SHAPES))
    out = tmp_path / "out"
    out.mkdir()
    apps = str(repo.path / "apps")

    printed = run("diff", "--repo", str(repo.path), "--format", "json", cwd=out)
    formats = [f"--format=json={out}/v.json", f"--format=sarif={out}/v.sarif", "--format=text"]
    checked = run("validate", apps, *formats, cwd=out, watch=[repo.path])

    judge(printed, codes=(0,), secrets=planted)
    json.loads(printed.stdout)
    judge(checked, codes=(0, 1), secrets=planted, writes=True)
    assert sorted(checked.written) == [f"{out}/v.json", f"{out}/v.sarif"]
