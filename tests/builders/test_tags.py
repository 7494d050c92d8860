"""Tag rules against docker/metadata-action's documented examples, from each CI's variables."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from gitops_actions import git
from gitops_actions.builders import events, tags
from gitops_actions.builders.events import Source
from gitops_actions.builders.tags import render
from gitops_actions.errors import UsageError

SHA = "90dd6032fac8bda1b6c4436a2e65de27961ed071"
SEMVER_RULES = (
    "type=ref,event=branch",
    "type=ref,event=pr",
    "type=semver,pattern={{version}}",
    "type=semver,pattern={{major}}.{{minor}}",
)


def github(ref: str, event: str = "push", tmp_path: Path | None = None, **extra: str) -> Source:
    env = {
        "GITHUB_ACTIONS": "true",
        "GITHUB_REF": ref,
        "GITHUB_EVENT_NAME": event,
        "GITHUB_SHA": SHA,
        **extra,
    }
    if tmp_path is not None:
        payload = tmp_path / "event.json"
        payload.write_text(json.dumps({"repository": {"default_branch": "master"}}))
        env["GITHUB_EVENT_PATH"] = str(payload)
    return events.source(env, Path("."))


# metadata-action README, "Basic" (default rules) and "Semver" (SEMVER_RULES) tables
@pytest.mark.parametrize(
    ("event", "ref", "basic", "semver"),
    [
        ("pull_request", "refs/pull/2/merge", ["pr-2"], ["pr-2"]),
        ("push", "refs/heads/master", ["master"], ["master"]),
        ("push", "refs/heads/releases/v1", ["releases-v1"], ["releases-v1"]),
        ("push", "refs/tags/v1.2.3", ["v1.2.3", "latest"], ["1.2.3", "1.2", "latest"]),
        ("push", "refs/tags/v2.0.8-beta.67", ["v2.0.8-beta.67", "latest"], ["2.0.8-beta.67"]),
        ("workflow_dispatch", "refs/heads/master", ["master"], ["master"]),
    ],
)
def test_readme_tables(event: str, ref: str, basic: list[str], semver: list[str]) -> None:
    src = github(ref, event)
    assert render((), (), src) == basic
    assert render(SEMVER_RULES, (), src) == semver


# README, type=semver and type=pep440: Git tag, pattern, match, output
@pytest.mark.parametrize(
    ("kind", "tag", "pattern", "match", "output"),
    [
        ("semver", "v1.2.3", "{{raw}}", "", "v1.2.3"),
        ("semver", "v1.2.3", "{{version}}", "", "1.2.3"),
        ("semver", "v1.2.3", "{{major}}.{{minor}}", "", "1.2"),
        ("semver", "v1.2.3", "v{{major}}", "", "v1"),
        ("semver", "v1.2.3", "{{minor}}", "", "2"),
        ("semver", "v1.2.3", "{{patch}}", "", "3"),
        ("semver", "p1/v1.2.3", "{{version}}", r"v(\d.\d.\d)$", "1.2.3"),
        ("semver", "v2.0.8-beta.67", "{{raw}}", "", "v2.0.8-beta.67"),
        ("semver", "v2.0.8-beta.67", "{{version}}", "", "2.0.8-beta.67"),
        ("semver", "v2.0.8-beta.67", "{{major}}", "", "2.0.8-beta.67"),
        ("semver", "v2.0.8-beta.67", "{{major}}.{{minor}}", "", "2.0.8-beta.67"),
        ("pep440", "1.2.3", "{{raw}}", "", "1.2.3"),
        ("pep440", "1.2.3", "{{version}}", "", "1.2.3"),
        ("pep440", "v1.2.3", "{{version}}", "", "1.2.3"),
        ("pep440", "1.2.3", "{{major}}.{{minor}}", "", "1.2"),
        ("pep440", "1.2.3", "v{{major}}", "", "v1"),
        ("pep440", "v1.2.3rc2", "{{raw}}", "", "v1.2.3rc2"),
        ("pep440", "1.2.3rc2", "{{version}}", "", "1.2.3rc2"),
        ("pep440", "p1/v1.2.3", "{{version}}", r"v(\d.\d.\d)$", "1.2.3"),
        ("pep440", "1.2.3rc2", "{{major}}.{{minor}}", "", "1.2.3rc2"),
        ("pep440", "1.2.3post1", "{{major}}.{{minor}}", "", "1.2.3.post1"),
        ("pep440", "1.2.3beta2", "{{major}}.{{minor}}", "", "1.2.3b2"),
        ("pep440", "1.0dev4", "{{major}}.{{minor}}", "", "1.0.dev4"),
    ],
)
def test_version_patterns(kind: str, tag: str, pattern: str, match: str, output: str) -> None:
    src = Source("tag", SHA, tag=tag)
    rule = f"type={kind},pattern={pattern}" + (f",match={match}" if match else "")
    assert render((rule,), ("latest=false",), src) == [output]


def test_latest_only_for_final_releases() -> None:
    assert render(("type=semver,pattern={{major}}",), (), Source("tag", tag="v1.2.3")) == [
        "1",
        "latest",
    ]
    assert render(("type=semver,pattern={{major}}",), (), Source("tag", tag="v1.2.3-rc.1")) == [
        "1.2.3-rc.1"
    ]
    rule = ("type=pep440,pattern={{version}}",)
    assert render(rule, (), Source("tag", SHA, tag="1.2.3")) == ["1.2.3", "latest"]
    assert render(rule, (), Source("tag", SHA, tag="1.2.3rc2")) == ["1.2.3rc2"]
    assert render(rule, (), Source("tag", SHA, tag="not-a-version")) == []


# README, type=match: Git tag, pattern, group, output
@pytest.mark.parametrize(
    ("tag", "pattern", "group", "output"),
    [
        ("v1.2.3", r"\d.\d.\d", "0", "1.2.3"),
        ("v2.0.8-beta.67", "v(.*)", "1", "2.0.8-beta.67"),
        ("v2.0.8-beta.67", r"v(\d.\d)", "1", "2.0"),
        ("20200110-RC2", r"\d+", "0", "20200110"),
        ("p1/v1.2.3", r"p1/v(\d.\d.\d)", "1", "1.2.3"),
    ],
)
def test_match_patterns(tag: str, pattern: str, group: str, output: str) -> None:
    rule = f"type=match,pattern={pattern},group={group}"
    assert render((rule,), (), Source("tag", SHA, tag=tag)) == [output, "latest"]


def test_match_value_flags_quotes_and_idle() -> None:
    branch = Source("branch", SHA, branch="main")
    assert render(("type=match,pattern=v(.*),group=1",), (), branch) == []
    assert render(("type=match,pattern=v(.*),group=1,value=v1.0.0",), (), branch) == [
        "1.0.0",
        "latest",
    ]
    tag = Source("tag", SHA, tag="V3.1")
    assert render(("type=match,pattern=/v(\\d+)/i,group=1",), (), tag) == ["3", "latest"]
    assert render(('type=match,"pattern=(\\d{1,2})\\.",group=1',), (), tag) == ["3", "latest"]
    assert render(("type=match,pattern=x(y)?,group=2",), (), Source("tag", SHA, tag="x")) == []


def test_edge_on_the_default_branch_or_the_one_named(tmp_path: Path) -> None:
    master = github("refs/heads/master", tmp_path=tmp_path)
    develop = github("refs/heads/develop", tmp_path=tmp_path)
    assert render(("type=edge",), (), master) == ["edge"]
    assert render(("type=edge",), (), develop) == []
    assert render(("type=edge,branch=develop",), (), develop) == ["edge"]
    assert render(("type=edge",), (), github("refs/tags/v1.2.3", tmp_path=tmp_path)) == []
    rules = ("type=ref,event=branch", "type=edge")  # edge (700) before ref (600)
    assert render(rules, (), master) == ["edge", "master"]


def test_latest_is_decided_by_the_first_rule_that_gives_a_tag() -> None:
    rules = ("type=ref,event=tag", "type=semver,pattern={{version}}")
    beta = Source("tag", SHA, tag="v2.0.8-beta.67")
    assert render(rules, (), beta) == ["2.0.8-beta.67", "v2.0.8-beta.67"]  # semver (900) first
    release = Source("tag", SHA, tag="v1.2.3")
    assert render(rules, (), release) == ["1.2.3", "v1.2.3", "latest"]
    raised = ("type=ref,event=tag,priority=1000", "type=semver,pattern={{version}}")
    assert render(raised, (), beta) == ["v2.0.8-beta.67", "2.0.8-beta.67", "latest"]
    assert render(("type=sha", "type=raw,value=x"), ("latest=true",), beta) == [
        "x",
        "sha-90dd603",
        "latest",
    ]
    assert render(("type=semver,pattern={{version}}",), ("latest=true",), Source("branch")) == []


def test_semver_value_and_idle_on_branches() -> None:
    branch = Source("branch", SHA, branch="main")
    assert render(("type=semver,pattern={{version}}",), (), branch) == []
    rule = "type=semver,pattern={{version}},value=v1.0.0"
    assert render((rule,), (), branch) == ["1.0.0", "latest"]


def test_bake_example_order() -> None:
    """README "Bake definition": refs/tags/v1.2.3 with SEMVER_RULES + type=sha."""
    src = github("refs/tags/v1.2.3")
    assert render((*SEMVER_RULES, "type=sha"), (), src) == ["1.2.3", "1.2", "sha-90dd603", "latest"]


def test_schedule(tmp_path: Path) -> None:
    now = dt.datetime(2020, 1, 10, 0, 30, 0, tzinfo=dt.UTC)
    src = Source("schedule", SHA, branch="master", now=now)
    assert render(("type=schedule",), (), src) == ["nightly"]
    assert render(("type=schedule,pattern={{date 'YYYYMMDD'}}",), (), src) == ["20200110"]
    tokyo = "type=schedule,pattern={{date 'YYYYMMDD-HHmmss' tz='Asia/Tokyo'}}"
    assert render((tokyo,), (), src) == ["20200110-093000"]
    assert render(("type=schedule",), (), Source("branch", SHA, branch="master")) == []
    # on GitHub a schedule runs on the default branch's ref: ref,event=branch gives it too,
    # and {{is_default_branch}} is true whatever the payload says
    scheduled = github("refs/heads/master", "schedule")
    assert render((), (), scheduled)[1:] == ["master"]  # the default rules
    rule = "type=raw,value=latest,enable={{is_default_branch}}"
    assert render((rule,), (), scheduled) == ["latest"]


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
    not_default = "type=raw,value=dev,enable={{is_not_default_branch}}"
    assert render((not_default,), (), feature) == ["dev"]
    assert render(("type=ref,event=branch,enable=false", "type=sha"), (), main) == ["sha-90dd603"]
    tag = github("refs/tags/v1.2.3")
    assert render((), ("latest=false",), tag) == ["v1.2.3"]
    assert render((), ("latest=true",), main) == ["master", "latest"]
    flavored = render((), ("prefix=app-", "suffix=-alpine"), tag)
    assert flavored == ["app-v1.2.3-alpine", "latest"]  # latest keeps its name (onlatest=false)
    on_latest = render((), ("prefix=app-,onlatest=true", "suffix=-alpine"), tag)
    assert on_latest == ["app-v1.2.3-alpine", "app-latest"]
    # a rule's own prefix replaces the flavor's: pr- and sha- are such prefixes
    pull = github("refs/pull/7/merge", "pull_request")
    assert render(("type=ref,event=pr", "type=sha"), ("prefix=app-",), pull) == [
        "pr-7",
        "sha-90dd603",
    ]
    rules = ("type=ref,event=pr,prefix=merge-", "type=ref,event=branch,suffix=-dev")
    assert render(rules, (), pull) == ["merge-7"]
    assert render(rules, (), main) == ["master-dev"]
    assert render(("type=sha,priority=2000", "type=ref,event=branch"), (), main) == [
        "sha-90dd603",
        "master",
    ]


def test_short_sha_length_from_the_environment() -> None:
    rules = ("type=sha", "type=raw,value=x-{{sha}}")
    src = github("refs/heads/master", DOCKER_METADATA_SHORT_SHA_LENGTH="12")
    assert render(rules, (), src) == ["x-90dd6032fac8", "sha-90dd6032fac8"]
    with pytest.raises(UsageError, match="DOCKER_METADATA_SHORT_SHA_LENGTH"):
        github("refs/heads/master", DOCKER_METADATA_SHORT_SHA_LENGTH="long")


def test_expressions_follow_the_ref(tmp_path: Path) -> None:
    """{{branch}} is empty on tags and pull requests; {{base_ref}} is the PR's target."""
    rule = ("type=raw,value=b-{{branch}}-t-{{tag}}-base-{{base_ref}}",)
    pull = github("refs/pull/7/merge", "pull_request", GITHUB_BASE_REF="main")
    assert render(rule, (), pull) == ["b--t--base-main"]
    assert render(rule, (), github("refs/tags/v1")) == ["b--t-v1-base-"]
    assert render(rule, (), github("refs/heads/a/b")) == ["b-a-b-t--base-"]
    commit = Source(
        "branch", SHA, branch="x", commit_date=dt.datetime(2020, 1, 10, 15, 25, tzinfo=dt.UTC)
    )
    assert render(("type=raw,value={{commit_date 'YYYY.MM.DD-HH'}}",), (), commit) == [
        "2020.01.10-15"
    ]


@pytest.mark.parametrize(
    "bad",
    [
        "type=nope",
        "type=ref,event=push",
        "type=sha,enable=maybe",
        "type=raw,value={{nope}}",
        "type=semver",
        "type=match,pattern=x,group=one",
        "type=raw,value={{date 'YYYY' tz='Nowhere/Else'}}",
        "type=match,pattern=(",
    ],
)
def test_bad_rules_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        render((bad,), (), Source("branch", SHA, branch="main"))


def test_branch_names_are_sanitised() -> None:
    assert tags.sanitize("feature/Ünïcode branch!") == "feature-n-code-branch-"
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
            ["nightly", "main", "latest", "sha-90dd603"],
        ),
    ],
)
def test_gitlab_pipelines(variables: dict[str, str], expected: list[str]) -> None:
    src = events.source(GITLAB | variables, Path("."))
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
    assert render(("type=ref,event=branch", "type=sha"), (), events.source({}, repo.path)) == [
        "feature-x",
        f"sha-{sha[:7]}",
    ]
    repo.git("tag", "v3.1.0")
    assert render(SEMVER_RULES, (), events.source({}, repo.path)) == ["3.1.0", "3.1", "latest"]


def test_no_git_and_no_ci_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="give --tags"):
        events.source({}, tmp_path)
