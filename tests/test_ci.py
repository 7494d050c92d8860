"""CI dialects: exact file contents, masks, annotation escaping, log folding."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from gitops_actions.ci import (
    SUMMARY_LIMIT,
    Annotation,
    Dialect,
    GitHub,
    GitLab,
    detect,
    escape_data,
    escape_property,
)
from gitops_actions.errors import UsageError
from gitops_actions.secrets import REDACTOR

from support import base_env, run_cli


def test_escaping_follows_github_rules() -> None:
    assert escape_data("100% done\r\nnext") == "100%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_detect_prefers_explicit_choice() -> None:
    assert detect({"GITHUB_ACTIONS": "true"}) is GitHub
    assert detect({"GITLAB_CI": "true"}) is GitLab
    assert detect({}) is Dialect
    assert detect({"GITHUB_ACTIONS": "true"}, "terminal") is Dialect
    with pytest.raises(UsageError):
        detect({}, "jenkins")


def test_github_outputs_use_random_heredoc_delimiter_for_multiline(tmp_path: Path) -> None:
    out_file = tmp_path / "out"
    ci = GitHub({"GITHUB_OUTPUT": str(out_file)}, io.StringIO())
    ci.set_output("one", "line")
    ci.set_output("many", "a\nghadelimiter_x\nb")
    ci.set_output("many", "c\nd")
    text = out_file.read_text()
    pattern = (
        r"one=line\n"
        r"many<<(ghadelimiter_[0-9a-f]{32})\na\nghadelimiter_x\nb\n\1\n"
        r"many<<(ghadelimiter_[0-9a-f]{32})\nc\nd\n\2\n"
    )
    match = re.fullmatch(pattern, text)
    assert match, text
    assert match.group(1) != match.group(2)


def test_github_summary_respects_one_mib(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("x" * (SUMMARY_LIMIT - 4000))
    ci = GitHub({"GITHUB_STEP_SUMMARY": str(summary)}, io.StringIO())
    ci.write_summary("| row |\n" * 2000)
    assert summary.stat().st_size <= SUMMARY_LIMIT
    assert summary.read_text().endswith("1 MiB step-summary limit.\n")


def test_github_masks_and_annotations() -> None:
    out = io.StringIO()
    ci = GitHub({}, out)
    REDACTOR.learn("hunter2-secret\nsecond-line")
    ci.annotate(
        Annotation(
            "error", "bad: 50%\nsee hunter2-secret", file="a,b:c.yaml", line=3, col=7, title="t:1"
        )
    )
    with ci.group("Render"):
        ci.log("inside")
    lines = out.getvalue().splitlines()
    assert "::add-mask::hunter2-secret" in lines
    assert "::add-mask::second-line" in lines
    assert "::error file=a%2Cb%3Ac.yaml,line=3,col=7,title=t%3A1::bad: 50%25%0Asee ***" in lines
    assert lines[-3:] == ["::group::Render", "inside", "::endgroup::"]


def test_gitlab_dotenv_and_sections(tmp_path: Path) -> None:
    dotenv = tmp_path / "gitops.env"
    dotenv.write_text("OTHER=kept\n")
    out = io.StringIO()
    ci = GitLab({}, out, dotenv_file=str(dotenv))
    ci.set_output("commit", "abc123")
    ci.set_output("pull-request-url", "http://x/1")
    ci.set_output("files", "a.yaml\nb.yaml")
    ci.set_output("commit", "def456")
    assert dotenv.read_text() == (
        "OTHER=kept\nGITOPS_OUT_COMMIT=def456\nGITOPS_OUT_PULL_REQUEST_URL=http://x/1\n"
        "GITOPS_OUT_FILES=a.yaml\\nb.yaml\n"
    )
    with ci.group("Bump images"):
        ci.log("inside")
    text = out.getvalue()
    assert re.search(
        r"\x1b\[0Ksection_start:\d+:gitops_1_Bump_images\[collapsed=true\]\r\x1b\[0KBump images\n"
        r"inside\n\x1b\[0Ksection_end:\d+:gitops_1_Bump_images\r\x1b\[0K\n",
        text,
    ), text


def test_outputs_reach_later_steps_of_the_job(tmp_path: Path) -> None:
    dotenv = tmp_path / "gitops.env"
    env = {"GITHUB_OUTPUT": str(tmp_path / "out"), "RUNNER_TEMP": str(tmp_path)}
    github = GitHub(env, io.StringIO())
    github.set_output("revision", "abc123")
    github.set_output("files", "a.yaml\nb.yaml")
    later = GitHub(env, io.StringIO())  # a later step of the job: same runner temp
    assert later.earlier_output("revision") == "abc123"
    assert later.earlier_output("files") == "a.yaml\nb.yaml"
    assert GitHub({"GITOPS_OUT_REVISION": "d1"}, io.StringIO()).earlier_output("revision") == "d1"
    gitlab = GitLab({}, io.StringIO(), dotenv_file=str(dotenv))
    assert gitlab.earlier_output("revision") == ""
    gitlab.set_output("revision", "def456")  # an earlier step of the same job
    next_step = GitLab({"GITOPS_OUT_REPO": "r"}, io.StringIO(), dotenv_file=str(dotenv))
    assert next_step.earlier_output("revision") == "def456"
    assert next_step.earlier_output("repo") == "r"  # an earlier job, through the dotenv report


# -- the CLI in each dialect ------------------------------------------------------------------
def test_cli_in_github_actions(tmp_path: Path) -> None:
    output, summary = tmp_path / "output", tmp_path / "summary.md"
    env = base_env(
        GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(output), GITHUB_STEP_SUMMARY=str(summary)
    )
    work = tmp_path / "demo"
    proc = run_cli("demo", "--no-docker", "--workdir", str(work), env=env)
    assert proc.returncode == 0, proc.stderr
    assert output.read_text() == (
        f"workdir={work}\nconfig-remote={work}/remotes/config.git\n"
        "image-ref=127.0.0.1:5000/demo/shop:1.1.0\n"
    )
    assert summary.read_text().startswith(f"# gitops-actions demo\n\nWork directory: `{work}`\n")
    assert "::group::set up: example repos and bare git remotes" in proc.stdout
    assert "::endgroup::" in proc.stdout


def test_cli_error_is_an_escaped_annotation_with_masked_secret(tmp_path: Path) -> None:
    secret = "s3cr3t-registry-token"
    context = tmp_path / f"ctx,{secret}"
    context.mkdir()
    env = base_env(GITHUB_ACTIONS="true", GITOPS_REGISTRY_PASSWORD=secret)
    proc = run_cli(
        "build", "--image", "example.test/app", "--tag", "1", "--context", str(context), env=env
    )
    assert proc.returncode == 2
    assert f"::add-mask::{secret}" in proc.stderr.splitlines()
    assert secret not in proc.stdout
    escaped_dir = str(tmp_path).replace(":", "%3A").replace(",", "%2C")
    assert proc.stdout.splitlines()[-1] == (
        f"::error file={escaped_dir}/ctx%2C***/Dockerfile,title=gitops-actions build"
        "::no such Dockerfile"
    )
    unmasked = [line for line in proc.stderr.splitlines() if not line.startswith("::add-mask::")]
    assert secret not in "\n".join(unmasked) + proc.stdout


def test_cli_in_gitlab_ci(tmp_path: Path) -> None:
    work = tmp_path / "demo"
    env = base_env(GITLAB_CI="true")
    proc = run_cli(
        "demo",
        "--no-docker",
        "--workdir",
        str(work),
        "--summary-file",
        str(tmp_path / "summary.md"),
        env=env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "gitops.env").read_text() == (
        f"GITOPS_OUT_WORKDIR={work}\nGITOPS_OUT_CONFIG_REMOTE={work}/remotes/config.git\n"
        "GITOPS_OUT_IMAGE_REF=127.0.0.1:5000/demo/shop:1.1.0\n"
    )
    assert "section_start:" in proc.stdout and "section_end:" in proc.stdout
    assert (tmp_path / "summary.md").read_text().startswith("# gitops-actions demo")
