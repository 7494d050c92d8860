"""Tag rules against docker/metadata-action's documented examples, from each CI's variables."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from gitops_actions import git
from gitops_actions.builders import tags
from gitops_actions.builders.tags import Source, render
from gitops_actions.errors import UsageError

SHA = "90dd6032fac8bda1b6c4436a2e65de27961ed071"
SEMVER_RULES = (
    "type=ref,event=branch",
    "type=ref,event=pr",
    "type=semver,pattern={{version}}",
    "type=semver,pattern={{major}}.{{minor}}",
)


def github(ref: str, event: str = "push", tmp_path: Path | None = None) -> Source:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF": ref,
        "GITHUB_EVENT_NAME": event,
        "GITHUB_SHA": SHA,
    }
    if tmp_path is not None:
        payload = tmp_path / "event.json"
        payload.write_text(json.dumps({"repository": {"default_branch": "master"}}))
        env["GITHUB_EVENT_PATH"] = str(payload)
    return tags.source(env, Path("."))


# metadata-action README, "Basic" (default rules) and "Semver" (SEMVER_RULES) tables
@pytest.mark.parametrize(
    ("event", "ref", "basic", "semver"),
    [
        ("pull_request", "refs/pull/2/merge", ["pr-2"], ["pr-2"]),
        ("push", "refs/heads/master", ["master"], ["master"]),
        ("push", "refs/heads/releases/v1", ["releases-v1"], ["releases-v1"]),
        ("push", "refs/tags/v1.2.3", ["v1.2.3", "latest"], ["1.2.3", "1.2", "latest"]),
        ("push", "refs/tags/v2.0.8-beta.67", ["v2.0.8-beta.67", "latest"], ["2.0.8-beta.67"]),
    ],
)
def test_readme_tables(event: str, ref: str, basic: list[str], semver: list[str]) -> None:
    src = github(ref, event)
    assert render((), (), src) == basic
    assert render(SEMVER_RULES, (), src) == semver


@pytest.mark.parametrize(
    ("tag", "pattern", "output"),
    [
        ("v1.2.3", "{{raw}}", "v1.2.3"),
        ("v1.2.3", "{{version}}", "1.2.3"),
        ("v1.2.3", "{{major}}.{{minor}}", "1.2"),
        ("v1.2.3", "v{{major}}", "v1"),
        ("v1.2.3", "{{minor}}", "2"),
        ("v1.2.3", "{{patch}}", "3"),
        ("v2.0.8-beta.67", "{{raw}}", "2.0.8-beta.67"),
        ("v2.0.8-beta.67", "{{version}}", "2.0.8-beta.67"),
        ("v2.0.8-beta.67", "{{major}}.{{minor}}", "2.0.8-beta.67"),
    ],
)
def test_semver_patterns(tag: str, pattern: str, output: str) -> None:
    src = Source("tag", SHA, tag=tag)
    assert render((f"type=semver,pattern={pattern}",), ("latest=false",), src) == [output]


def test_semver_value_and_idle_on_branches() -> None:
    branch = Source("branch", SHA, branch="main")
    assert render(("type=semver,pattern={{version}}",), (), branch) == []
    rule = "type=semver,pattern={{version}},value=v1.0.0"
    assert render((rule,), (), branch) == ["1.0.0", "latest"]


def test_bake_example_order() -> None:
    """README "Bake definition": refs/tags/v1.2.3 with SEMVER_RULES + type=sha."""
    src = github("refs/tags/v1.2.3")
    assert render((*SEMVER_RULES, "type=sha"), (), src) == ["1.2.3", "1.2", "sha-90dd603", "latest"]


def test_schedule() -> None:
    now = dt.datetime(2021, 3, 26, 1, 2, 3, tzinfo=dt.UTC)
    src = Source("schedule", SHA, branch="master", now=now)
    assert render(("type=schedule",), (), src) == ["nightly"]
    assert render(("type=schedule,pattern={{date 'YYYYMMDD'}}",), (), src) == ["20210326"]
    assert render((), (), src) == ["nightly"]  # the default rules
    assert render(("type=schedule",), (), Source("branch", SHA, branch="master")) == []


def test_sha_raw_and_expressions() -> None:
    src = Source("branch", SHA, branch="master")
    assert render(("type=sha",), (), src) == ["sha-90dd603"]
    assert render(("type=sha,format=long",), (), src) == [f"sha-{SHA}"]
    assert render(("type=sha,prefix={{branch}}-",), (), src) == ["master-90dd603"]
    assert render(("type=raw,value=mytag-{{branch}}-{{sha}}",), (), src) == ["mytag-master-90dd603"]
    assert render(("type=raw,value=foo", "type=raw,bar", "baz"), (), src) == ["foo", "bar", "baz"]


def test_flavor_and_enable(tmp_path: Path) -> None:
    main = github("refs/heads/master", tmp_path=tmp_path)
    feature = github("refs/heads/feature/x", tmp_path=tmp_path)
    rule = "type=raw,value=latest,enable={{is_default_branch}}"
    assert render((rule,), (), main) == ["latest"]
    assert render((rule,), (), feature) == []
    assert render(("type=ref,event=branch,enable=false", "type=sha"), (), main) == ["sha-90dd603"]
    tag = github("refs/tags/v1.2.3")
    assert render((), ("latest=false",), tag) == ["v1.2.3"]
    assert render((), ("latest=true",), main) == ["master", "latest"]
    flavored = render((), ("prefix=app-", "suffix=-alpine"), tag)
    assert flavored == ["app-v1.2.3-alpine", "latest"]  # latest keeps its name (onlatest=false)
    rules = ("type=ref,event=pr,prefix=merge-", "type=ref,event=branch,suffix=-dev")
    assert render(rules, (), github("refs/pull/7/merge", "pull_request")) == ["merge-7"]
    assert render(rules, (), main) == ["master-dev"]


@pytest.mark.parametrize(
    "bad",
    ["type=nope", "type=ref,event=push", "type=sha,enable=maybe", "type=raw,value={{nope}}"],
)
def test_bad_rules_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        render((bad,), (), Source("branch", SHA, branch="main"))


def test_branch_names_are_sanitised() -> None:
    assert tags.sanitize("feature/Ünïcode branch!") == "feature--n-code-branch-"
    assert tags.sanitize("-x" + "a" * 200) == "x" + "a" * 127
    src = Source("branch", SHA, branch="dependabot/npm_and_yarn/lodash-4.17.21")
    assert render((), (), src) == ["dependabot-npm_and_yarn-lodash-4.17.21"]


# -- GitLab pipelines --------------------------------------------------------------------------
GITLAB = {"GITLAB_CI": "true", "CI_COMMIT_SHA": SHA, "CI_DEFAULT_BRANCH": "main"}


@pytest.mark.parametrize(
    ("variables", "expected"),
    [
        (
            {"CI_COMMIT_BRANCH": "main", "CI_COMMIT_REF_NAME": "main"},
            ["main", "latest", "sha-90dd603"],
        ),
        ({"CI_COMMIT_BRANCH": "fix/login"}, ["fix-login", "sha-90dd603"]),
        (
            {"CI_COMMIT_TAG": "v1.4.2", "CI_COMMIT_REF_NAME": "v1.4.2"},
            ["1.4.2", "1.4", "sha-90dd603", "latest"],
        ),
        (
            {"CI_MERGE_REQUEST_IID": "12", "CI_COMMIT_REF_NAME": "fix/login"},
            ["pr-12", "sha-90dd603"],
        ),
        (
            {"CI_PIPELINE_SOURCE": "schedule", "CI_COMMIT_BRANCH": "main"},
            ["nightly", "latest", "sha-90dd603"],
        ),
    ],
)
def test_gitlab_pipelines(variables: dict[str, str], expected: list[str]) -> None:
    src = tags.source(GITLAB | variables, Path("."))
    rules = (
        *SEMVER_RULES,
        "type=schedule",
        "type=sha",
        "type=raw,value=latest,enable={{is_default_branch}}",
    )
    assert render(rules, (), src) == expected


# -- git in a terminal -------------------------------------------------------------------------
def test_git_checkout(tmp_path: Path) -> None:
    repo = git.init(tmp_path / "app")
    (repo.path / "Dockerfile").write_text("FROM scratch\n")
    repo.add()
    sha = repo.commit("initial")
    repo.git("checkout", "-q", "-b", "feature/x")
    assert render(("type=ref,event=branch", "type=sha"), (), tags.source({}, repo.path)) == [
        "feature-x",
        f"sha-{sha[:7]}",
    ]
    repo.git("tag", "v3.1.0")
    assert render(SEMVER_RULES, (), tags.source({}, repo.path)) == ["3.1.0", "3.1", "latest"]


def test_no_git_and_no_ci_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="give --tags"):
        tags.source({}, tmp_path)
