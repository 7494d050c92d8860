"""One YAML reading for every reader: anchors defined again, the parser's own words."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops_actions import apps, cli, git, kustomize
from gitops_actions.edit.source import Source
from gitops_actions.errors import InputError
from gitops_actions.yamlread import loader

REDEFINED = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: cfg
data:
  first: &name one
  second: &name two   # the same anchor, defined again: aliases below mean "two"
  third: *name
"""


def test_an_alias_means_the_latest_definition_of_its_anchor() -> None:
    [doc] = loader.documents(REDEFINED)
    assert doc.value["data"] == {"first": "one", "second": "two", "third": "two"}
    assert loader.read_values(REDEFINED.encode(), "cm.yaml")[0]["data"]["third"] == "two"


def test_bump_reads_a_file_that_defines_an_anchor_again() -> None:
    source = Source("cm.yaml", REDEFINED.encode())
    [doc] = source.docs
    data = dict((k.value, v) for k, v in doc.value)["data"]
    values = [v.value for _, v in data.value]
    assert values == ["one", "two", "two"]
    assert id(data.value[1][1]) in source.shared  # "two" is reached twice: never edited


def test_the_in_process_renderer_and_diff_read_it_too(tmp_path: Path) -> None:
    (tmp_path / "cm.yaml").write_text(REDEFINED)
    (tmp_path / "kustomization.yaml").write_text("resources: [cm.yaml]\nnamespace: prod\n")
    [built] = kustomize.build(tmp_path, tmp_path)
    assert built["data"]["third"] == "two"
    plain = apps.EntryPoint(".", "plain", ".", ("cm.yaml",), files=("cm.yaml",))
    [resource] = apps.render(tmp_path, plain, tmp_path).resources
    assert resource["data"]["third"] == "two"


def test_validate_and_diff_accept_it_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = git.init(tmp_path / "config")
    (repo.path / "app").mkdir()
    (repo.path / "app" / "cm.yaml").write_text(REDEFINED.replace("two", "2x"))
    repo.add()
    repo.commit("initial")
    (repo.path / "app" / "cm.yaml").write_text(REDEFINED)
    repo.add()
    repo.commit("change")
    assert cli.main(["validate", str(repo.path / "app")], env={}) == 0, capsys.readouterr()
    capsys.readouterr()
    assert cli.main(["diff", "--repo", str(repo.path), "--format", "json"], env={}) == 0
    out = capsys.readouterr().out
    assert "data.third: 2x -> two" in out


@pytest.mark.parametrize(
    ("text", "where", "words"),
    [
        (
            "a: 1\nb\nc: 2\n",
            (3, 1),
            "while scanning a simple key could not find expected ':'",
        ),
        (
            "a: [1, 2\nb: 3\n",
            (2, 2),
            "while parsing a flow sequence did not find expected ',' or ']'",
        ),
        ("a: *missing\n", (1, 4), "cannot parse YAML: found undefined alias 'missing'"),
    ],
)
def test_the_parser_message_is_kept_whole(text: str, where: tuple[int, int], words: str) -> None:
    with pytest.raises(loader.LoadError) as err:
        list(loader.documents(text))
    assert words in err.value.message
    assert (err.value.line, err.value.column) == where
    with pytest.raises(InputError) as failed:
        Source("x.yaml", text.encode())
    assert words in failed.value.message
