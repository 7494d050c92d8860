"""Comment parts rendered from diff documents, compared byte for byte with golden files.

``tests/data/comment/<case>/input.json`` is the diff (``large`` is generated here) and
``part-<n>.md`` are the parts expected. ``UPDATE_GOLDEN=1`` rewrites the golden files.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest

from gitops_actions.comment.parts import comment_parts
from gitops_actions.comment.render import render
from gitops_actions.diffmodel import App, Change, Diff, Ref

DATA = Path(__file__).resolve().parent.parent / "data" / "comment"
CASES = ("no-change", "image-bump", "added-removed", "secret", "filtered", "large")
GITHUB_LIMIT = 65536
PLAINTEXT = "hunter2-Plaintext-Pa55word!"  # the secret the diff builder redacted


def large_diff() -> Diff:
    """One app whose ConfigMap changed in 620 keys, too big for one comment, and a small one."""
    apps = []
    for number, keys in enumerate((620, 20)):
        lines = "".join(
            f"-  key-{i:04d}: value for release {number}.0 of the settings file\n"
            f"+  key-{i:04d}: value for release {number}.1 of the settings file\n"
            for i in range(keys)
        )
        diff = f"--- a/v1/ConfigMap/app{number}/settings\n+++ b/v1/ConfigMap/app{number}/"
        diff += f"settings\n@@ -1,{keys} +1,{keys} @@\n{lines}"
        summary = (f"data: {keys} keys changed",)
        change = Change("changed", "", "v1", "ConfigMap", f"app{number}", "settings", summary, diff)
        apps.append(App(f"apps/app{number}", (change,)))
    return Diff(
        target="config",
        base=Ref("main", "3f2a9c1e5b7d4f6a8c0e2b4d6f8a0c2e4b6d8f0a"),
        head=Ref("settings/rollout", "2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b1c"),
        apps=tuple(apps),
        rendered=tuple(app.name for app in apps),
    )


def diff_of(case: str) -> Diff:
    if case == "large":
        return large_diff()
    path = DATA / case / "input.json"
    return Diff.from_json(path.read_text(encoding="utf-8"), path=str(path))


def parts_of(diff: Diff) -> list[str]:
    return comment_parts(
        render(diff),
        target=diff.target,
        limit=GITHUB_LIMIT,
        head=diff.head.sha,
        run=1,
        artifact=diff.full_artifact,
    )


def fences_balanced(text: str) -> bool:
    """Every fence opened in ``text`` is closed by a matching fence in ``text``."""
    open_fence = ""
    for line in text.splitlines():
        match = re.match(r" {0,3}(`{3,}|~{3,})(.*)", line)
        if not match:
            continue
        if not open_fence:
            backtick_info = match.group(1)[0] == "`" and "`" in match.group(2)
            open_fence = "" if backtick_info else match.group(1)
        elif match.group(1).startswith(open_fence) and not match.group(2).strip():
            open_fence = ""
    return not open_fence


def details_balanced(text: str) -> bool:
    depth = 0
    for tag in re.findall(r"</?details", text):
        depth += -1 if tag.startswith("</") else 1
        if depth < 0:
            return False
    return depth == 0


@pytest.mark.parametrize("case", CASES)
def test_parts_match_golden_files(case: str) -> None:
    parts = parts_of(diff_of(case))
    folder = DATA / case
    if os.environ.get("UPDATE_GOLDEN") == "1":
        for old in folder.glob("part-*.md"):
            old.unlink()
        for number, part in enumerate(parts, 1):
            (folder / f"part-{number}.md").write_text(part, encoding="utf-8")
    expected = sorted(folder.glob("part-*.md"), key=lambda p: int(p.stem.split("-")[1]))
    assert [p.name for p in expected] == [f"part-{n}.md" for n in range(1, len(parts) + 1)]
    for path, part in zip(expected, parts, strict=True):
        assert part == path.read_text(encoding="utf-8"), f"{path} differs"


@pytest.mark.parametrize("case", CASES)
def test_every_part_fits_and_renders_on_its_own(case: str) -> None:
    diff = diff_of(case)
    parts = parts_of(diff)
    for number, part in enumerate(parts, 1):
        assert len(part) < GITHUB_LIMIT
        assert fences_balanced(part) and details_balanced(part), f"part {number}"
        assert part.startswith(f"<!-- gitops-actions:diff:{diff.target} -->\n")
        assert f"<!-- gitops-actions:head:{diff.head.sha} -->" in part
    assert diff.base.sha in parts[-1] and diff.head.sha in parts[-1]


def test_large_diff_takes_several_parts_and_keeps_every_line() -> None:
    diff = large_diff()
    assert len(render(diff).text) > GITHUB_LIMIT
    parts = parts_of(diff)

    assert len(parts) == 2
    assert all(
        f"<!-- gitops-actions:part:{n}/{len(parts)} -->" in p for n, p in enumerate(parts, 1)
    )
    joined = "".join(parts)
    for app in diff.apps:
        for line in app.changes[0].diff.splitlines():
            assert line in joined
    assert "(continued)</summary>" in parts[1]  # an app cut in two reopens its <details>
    assert "\n\n<details><summary><code>apps/app1</code>" in parts[1]


def test_summary_table_comes_first_with_counts_per_app_and_kind() -> None:
    [part] = parts_of(diff_of("added-removed"))
    table = part.index("| app | kind | added | changed | removed |")
    assert table < part.index("<details>")
    assert "| `apps/payments` | `ClusterRole` | 1 | 0 | 0 |" in part
    assert "| `apps/payments` | `Ingress` | 0 | 0 | 1 |" in part
    assert "| `apps/shop_<beta>\\|edge` | `ConfigMap` | 0 | 0 | 1 |" in part
    assert "| **total** | | 2 | 0 | 2 |" in part


def test_names_are_escaped_where_they_land() -> None:
    [part] = parts_of(diff_of("added-removed"))
    assert "<summary><code>apps/shop_&lt;beta&gt;|edge</code> (1 change)</summary>" in part


def test_a_fence_inside_the_diff_gets_a_longer_fence_around_it() -> None:
    inner = "--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n ```yaml\n-a: 1\n+a: 2\n ```\n"
    change = Change("changed", "", "v1", "ConfigMap", "shop", "notes", (), inner)
    diff = Diff("config", Ref("main", "a" * 40), Ref("b", "b" * 40), (App("apps/x", (change,)),))
    [part] = parts_of(diff)
    assert "\n````diff\n" + inner + "````\n" in part
    assert fences_balanced(part)


def test_secret_plaintext_and_base64_appear_in_no_part() -> None:
    encoded = base64.b64encode(PLAINTEXT.encode()).decode()
    diff = diff_of("secret")
    parts = parts_of(diff)

    for text in (*parts, render(diff).text, diff.to_json()):
        assert PLAINTEXT not in text and encoded not in text
    assert "secret: `data.password: <redacted, changed, 20 -> 24 bytes>`" in parts[0]


def test_filters_say_what_they_hid() -> None:
    [part] = parts_of(diff_of("filtered"))
    assert (
        "Noise filters hid 28 changes: `helm.sh/chart label` (14), "
        "`app.kubernetes.io/version label` (14)." in part
    )
    assert "checksum/config" not in part
    assert "<details><summary>Rendered 6 apps</summary>" in part


def test_no_change_says_so() -> None:
    [part] = parts_of(diff_of("no-change"))
    assert "No changes in the rendered resources." in part
    assert "| app |" not in part and "<details>" not in part
