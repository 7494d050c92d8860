"""Small pure pieces of the editing engine."""

from __future__ import annotations

import pytest

from gitops_actions.edit import hcl, keypath, semver
from gitops_actions.edit.keypath import Select
from gitops_actions.errors import UsageError


@pytest.mark.parametrize(
    ("old", "new", "down"),
    [
        ("1.2.3", "1.2.4", False),
        ("1.10.0", "1.9.0", True),
        ("v2.0.0", "1.99.99", True),
        ("1.0.0", "1.0.0-rc.1", True),
        ("1.0.0-rc.2", "1.0.0-rc.10", False),
        ("1.0.0-alpha", "1.0.0-alpha.1", False),
        ("1.2", "1.2.1", False),
        ("latest", "1.0.0", False),
        ("2026.08.1", "2026.07.9", False),  # leading zeros: not semver, never compared
    ],
)
def test_downgrade(old: str, new: str, down: bool) -> None:
    assert semver.is_downgrade(old, new) is down


def test_key_paths() -> None:
    assert keypath.parse_path('a.b[0].c."x.y/z"[name=app].0') == (
        "a",
        "b",
        0,
        "c",
        "x.y/z",
        Select("name", "app"),
        "0",
    )
    for bad in ("", "a..b", "a.", "a[", "."):
        with pytest.raises(UsageError):
            keypath.parse_path(bad)


def test_hcl_attributes_skip_comments_strings_and_heredocs() -> None:
    text = (
        '# image_tag = "commented"\n'
        'image_tag = "1.0.0" // trailing\n'
        '/* block\nimage_tag = "in block comment" */\n'
        'desc = "image_tag = \\"in a string\\""\n'
        'doc = <<EOT\nimage_tag = "in heredoc"\nEOT\n'
        'app = {\n  image_tag = "2.0.0"\n  tags = ["a", "b"]\n}\n'
        'templated = "${var.x}"\n'
    )
    found = {a.path: a.value for a in hcl.attributes(text)}
    assert found[("image_tag",)] == "1.0.0"
    assert found[("app", "image_tag")] == "2.0.0"
    assert ("tags",) not in found and ("app", "tags") not in found


def test_hcl_refuses_templates() -> None:
    from gitops_actions.errors import InputError

    with pytest.raises(InputError, match="built by a template"):
        hcl.plan_hcl("x.tfvars", 'tag = "${var.tag}"\n', "tag", "1.0.0")
