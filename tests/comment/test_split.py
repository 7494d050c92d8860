"""Splitting markdown below a limit: fences and ``<details>`` stay balanced in every part."""

from __future__ import annotations

import random

import pytest
from test_render_golden import details_balanced, fences_balanced

from gitops_actions.comment.render import Document
from gitops_actions.comment.split import paginate, split_markdown
from gitops_actions.errors import UsageError


def subsequence(wanted: list[str], lines: list[str]) -> bool:
    it = iter(lines)
    return all(any(line == w for line in it) for w in wanted)


def check(text: str, budget: int) -> list[str]:
    parts = split_markdown(text, budget)
    for part in parts:
        assert len(part) <= budget
        assert fences_balanced(part), part
        assert details_balanced(part), part
    joined = "".join(parts).splitlines()
    assert subsequence(text.splitlines(), joined)
    return parts


def test_text_within_the_budget_is_one_part_unchanged() -> None:
    text = "# title\n\n```diff\n+a\n```\n"
    assert split_markdown(text, 1000) == [text]


def test_cut_inside_a_fence_closes_and_reopens_it_with_its_info_string() -> None:
    text = "intro\n\n~~~~yaml title=x\n" + "".join(f"key{i}: {i}\n" for i in range(200)) + "~~~~\n"
    parts = check(text, 600)

    assert len(parts) > 2
    for part in parts[1:]:
        assert part.startswith("~~~~yaml title=x\n")
    for part in parts[:-1]:
        assert part.endswith("~~~~\n")


def test_cut_inside_nested_details_reopens_each_level() -> None:
    inner = "".join(f"- item {i}\n" for i in range(100))
    text = (
        "<details><summary>outer</summary>\n\n<details><summary>inner</summary>\n\n"
        f"```\n{inner}```\n\n</details>\n\n</details>\n"
    )
    parts = check(text, 400)

    assert parts[1].startswith(
        "<details><summary>outer (continued)</summary>\n\n"
        "<details><summary>inner (continued)</summary>\n\n```\n"
    )


def test_cuts_prefer_the_boundary_between_details_blocks() -> None:
    block = "<details><summary>{}</summary>\n\n```diff\n" + "+x\n" * 30 + "```\n\n</details>\n\n"
    text = "".join(block.format(name) for name in ("a", "b", "c", "d"))
    parts = check(text, 2 * len(block.format("a")) + 10)

    assert [p.count("<details>") for p in parts] == [2, 2]
    assert "(continued)" not in "".join(parts)


def test_a_line_longer_than_the_budget_is_cut_into_pieces() -> None:
    text = "```\n" + "x" * 5000 + "\n```\n"
    parts = split_markdown(text, 1000)
    assert all(len(p) <= 1000 and fences_balanced(p) for p in parts)
    assert "".join(p.replace("```\n", "") for p in parts).replace("\n", "") == "x" * 5000


def test_backticks_in_an_info_string_are_not_a_fence() -> None:
    text = "``` not `a` fence\n" + "line\n" * 300
    parts = check(text, 500)
    assert all("```\n" not in p.replace("``` not `a` fence\n", "") for p in parts)


@pytest.mark.parametrize("seed", range(12))
def test_random_markdown_always_splits_balanced(seed: int) -> None:
    rng = random.Random(seed)
    lines: list[str] = []
    depth, fence = 0, ""
    for _ in range(rng.randint(50, 400)):
        roll = rng.random()
        if fence:
            lines.append(fence if roll < 0.1 else rng.choice(["+a", "-b", " c", "x" * 90]))
            fence = "" if roll < 0.1 else fence
        elif roll < 0.1:
            fence = rng.choice(["```", "````", "~~~"])
            lines.append(fence + rng.choice(["", "diff", "yaml"]))
        elif roll < 0.2 and depth < 3:
            lines += ["<details><summary>s</summary>", ""]
            depth += 1
        elif roll < 0.3 and depth:
            lines += ["", "</details>", ""]
            depth -= 1
        else:
            lines.append(rng.choice(["", "text", "- item", "| a | b |", "y" * 60]))
    lines += [fence] if fence else []
    lines += ["</details>"] * depth
    text = "\n".join(lines) + "\n"
    for budget in (300, 700, 2000):
        check(text, budget)


def header(number: int, count: int) -> str:
    return f"<!-- m -->\n<!-- part:{number}/{count} -->\n"


def test_beyond_max_parts_the_rest_is_cut_with_a_link() -> None:
    body = "".join(f"paragraph {i} " + "z" * 900 + "\n\n" for i in range(40))
    doc = Document(body, "\n---\nfooter\n")
    url = "https://ci.example/runs/1/artifacts (diff)"
    parts = paginate(doc, limit=3000, header=header, max_parts=3, artifact=url)

    assert len(parts) == 3 and all(len(p) <= 3000 for p in parts)
    assert "more parts are not shown here" in parts[-1]
    assert "(https://ci.example/runs/1/artifacts%20%28diff%29)" in parts[-1]
    assert parts[-1].endswith("\n---\nfooter\n")
    assert [p.startswith(header(n, 3)) for n, p in enumerate(parts, 1)] == [True] * 3


def test_without_an_artifact_the_cut_points_at_the_pipeline() -> None:
    doc = Document("".join("w" * 900 + "\n\n" for _ in range(10)))
    [part] = paginate(doc, limit=2000, header=header, max_parts=1, artifact=None)
    assert "see the full diff in the pipeline's artifacts" in part
    assert len(part) <= 2000


def test_a_limit_too_small_for_the_header_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        paginate(Document("x\n"), limit=200, header=header)
    with pytest.raises(UsageError):
        paginate(Document("x\n"), limit=65536, header=header, max_parts=0)
