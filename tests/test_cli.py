"""The command line: every step listed, flags and GITOPS_* variables equivalent, exit codes."""

from __future__ import annotations

import re
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest

from gitops_actions import cli
from gitops_actions.step import env_name, flag_name, public
from gitops_actions.steps import STEPS

from support import base_env, run_cli


def test_help_lists_every_step() -> None:
    proc = run_cli("--help")
    assert proc.returncode == 0
    for name in STEPS:
        assert f"    {name} " in proc.stdout
    assert set(STEPS) >= {
        "build",
        "bump",
        "promote",
        "rollback",
        "validate",
        "diff",
        "comment",
        "handoff",
        "serve",
        "demo",
    }


@pytest.mark.parametrize("name", list(STEPS))
def test_every_step_help_shows_examples(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([name, "--help"], env={}) == 0
    out = capsys.readouterr().out
    assert "examples:" in out
    for example in STEPS[name].examples:
        assert example in out


def _sample(kind: type) -> tuple[list[str], str, Any]:
    """A value for an option of ``kind``: flag arguments, variable text, resolved value."""
    if kind is bool:
        return [], "false", False
    if kind is int:
        return ["7"], "7", 7
    if kind is float:
        return ["2.5"], "2.5", 2.5
    if kind is tuple:
        return ["a", "b"], "a\nb", ("a", "b")
    return ["some-value"], "some-value", "some-value"


CASES = [(step.name, field.name) for step in STEPS.values() for field in step.fields()] + [
    ("demo", field.name) for field in cli.dataclasses.fields(cli.GlobalOptions)
]


@pytest.mark.parametrize(("step_name", "field_name"), CASES)
def test_flag_and_environment_variable_are_equivalent(step_name: str, field_name: str) -> None:
    step = STEPS[step_name]
    owner = step.options if field_name in {f.name for f in step.fields()} else cli.GlobalOptions
    field = {f.name: f for f in cli.dataclasses.fields(owner)}[field_name]
    kind = cli._kind(typing.get_type_hints(owner)[field_name])
    meta = field.metadata["gitops"]
    args, text, value = _sample(kind)
    if meta.choices:
        args, text, value = [meta.choices[-1]], meta.choices[-1], meta.choices[-1]
    required = [f for f in step.fields() if f.metadata["gitops"].required and f.name != field_name]
    base = {
        env_name(public(f)): (f.metadata["gitops"].choices or ("x.example/required",))[0]
        for f in required
    }
    name = public(field)
    parser = cli.build_parser()
    if kind is bool:
        argv = [step_name, "--no-" + flag_name(name)[2:]]
    elif meta.positional:
        argv = [step_name, *args]
    else:
        argv = [step_name] + [part for a in args for part in (flag_name(name), a)]
    from_flags = cli.resolve(owner, parser.parse_known_args(argv)[0], base)
    from_env = cli.resolve(
        owner, parser.parse_known_args([step_name])[0], base | {env_name(name): text}
    )
    assert getattr(from_flags, field_name) == value
    assert from_flags == from_env


@pytest.mark.parametrize(
    ("text", "tags"),
    [
        ("1.2.3\nlatest\n", ("1.2.3", "latest")),
        ('["1.2.3", "latest"]', ("1.2.3", "latest")),  # a GitLab array input, as a string
        ("[]", ()),
        ("[not json", ("[not json",)),
    ],
)
def test_repeatable_variable_takes_lines_or_a_json_array(text: str, tags: tuple[str, ...]) -> None:
    ns = cli.build_parser().parse_known_args(["build"])[0]
    env = {"GITOPS_IMAGE": "a.example/shop", "GITOPS_TAGS": text}
    assert cli.resolve(STEPS["build"].options, ns, env).tags == tags


def test_flag_wins_over_variable() -> None:
    parser = cli.build_parser()
    ns = parser.parse_known_args(["build", "--image", "a.example/flag"])[0]
    opts = cli.resolve(STEPS["build"].options, ns, {"GITOPS_IMAGE": "a.example/env"})
    assert opts.image == "a.example/flag"


def test_same_run_from_flags_or_environment(tmp_path: Path) -> None:
    by_flags = run_cli("demo", "--no-docker", "--workdir", str(tmp_path / "a"), "--tag", "2.0.0")
    by_env = run_cli(
        "demo",
        env=base_env(GITOPS_DOCKER="false", GITOPS_WORKDIR=str(tmp_path / "b"), GITOPS_TAG="2.0.0"),
    )
    assert by_flags.returncode == by_env.returncode == 0

    def normal(text: str, work: Path) -> list[str]:
        text = re.sub(r"\b[0-9a-f]{12}(?:[0-9a-f]{28})?\b", "SHA", text.replace(str(work), "W"))
        text = re.sub(r"127\.0\.0\.1:\d+", "LOOPBACK", text)  # the stand-in Argo CD
        text = re.sub(r"\b\d+\.\d+s\b", "Ns", text)  # how long handoff waited
        return text.splitlines()

    assert normal(by_flags.stdout, tmp_path / "a") == normal(by_env.stdout, tmp_path / "b")
    assert "bump dev: committed SHA on main" in "\n".join(normal(by_env.stdout, tmp_path / "b"))
    assert "shop:2.0.0" in by_env.stdout


def test_bad_variable_value_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo"], env={"GITOPS_DOCKER": "maybe"}) == 2
    assert capsys.readouterr().err == (
        "gitops-actions demo: error: GITOPS_DOCKER='maybe': expected true or false\n"
    )


def test_missing_required_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["build"], env={}) == 2
    assert "missing --image (or GITOPS_IMAGE)" in capsys.readouterr().err


def test_unknown_option_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["demo", "--frobnicate"], env={}) == 2
    assert capsys.readouterr().err == (
        "gitops-actions demo: error: unrecognized arguments: --frobnicate "
        "(see gitops-actions --help)\n"
    )
    assert cli.main(["diff", "--filter", "bogus"], env={}) == 2
    assert "--filter 'bogus': expected label:KEY" in capsys.readouterr().err
    assert cli.main(["comment", "--from", __file__, "--pr", "-1", "--forge", "local"], env={}) == 2
    assert "--pr -1: not a pull request number" in capsys.readouterr().err


def test_debug_shows_traceback_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    plain = run_cli("demo", "--no-docker", "--workdir", str(tmp_path / "full"))
    debug = run_cli("demo", "--no-docker", "--workdir", str(tmp_path / "full"), "--debug")
    assert plain.returncode == debug.returncode == 2
    assert plain.stderr.count("\n") == 1 and "not empty" in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr


def test_internal_errors_exit_70(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(opts: Any, ctx: Any) -> Any:
        raise ZeroDivisionError("boom")

    monkeypatch.setitem(STEPS, "demo", cli.dataclasses.replace(STEPS["demo"], run=broken))
    assert cli.main(["demo"], env={}) == 70
    assert (
        "internal error: ZeroDivisionError('boom') (rerun with --debug" in capsys.readouterr().err
    )


def test_empty_variable_means_unset() -> None:
    """Actions pass every input, empty when not given; empty must keep the default."""
    ns = cli.build_parser().parse_known_args(["build"])[0]
    opts = cli.resolve(
        STEPS["build"].options,
        ns,
        {"GITOPS_IMAGE": "a.example/app", "GITOPS_PUSH": "", "GITOPS_TAGS": ""},
    )
    assert opts.push is True
    assert opts.tags == ()


def test_registry_entries_match_their_steps() -> None:
    for name, entry in STEPS.entries.items():
        step = STEPS[name]
        assert (step.name, step.summary) == (name, entry.summary)


def test_one_step_does_not_load_the_others() -> None:
    code = (
        "import sys\n"
        "from gitops_actions import cli\n"
        "code = cli.main(['bump', '--repo', '.', '--dry-run'], env={})\n"
        "print(sorted(m for m in sys.modules if m.startswith(('gitops_actions.validate',"
        " 'gitops_actions.comment', 'gitops_actions.sandbox', 'gitops_actions.diff'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.stdout.strip().splitlines()[-1] == "[]", proc.stdout + proc.stderr


def test_an_unusable_path_is_bad_input_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    afile = tmp_path / "a-file"
    afile.write_text("x")
    assert cli.main(["demo", "--no-docker", "--workdir", str(afile)], env={}) == 2
    assert capsys.readouterr().err == f"gitops-actions demo: error: {afile}: Not a directory\n"
