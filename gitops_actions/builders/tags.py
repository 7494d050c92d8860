"""Image tags from rules, with the meanings and defaults of docker/metadata-action.

    type=schedule[,pattern=nightly|{{date 'YYYYMMDD'}}]   on scheduled pipelines
    type=ref,event=branch|tag|pr                           my/branch -> my-branch, pr-2
    type=semver,pattern={{version}}|{{major}}.{{minor}}|{{major}}[,value=v1.2.3]
    type=raw,value=foo (or just foo)      type=sha[,format=long]  -> sha-ad132f5
    every rule: enable=true|false|{{is_default_branch}}, prefix=, suffix=, priority=
    flavor: latest=auto|true|false, prefix=, suffix=

No rules means metadata-action's defaults: schedule, and ref for branch, tag and pr events.
``latest`` in auto mode comes with a tag event: any tag for ref,event=tag, a release (not a
pre-release) for semver rules. What happened (event, branch, tag, ...) comes from GitHub,
GitLab or git.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gitops_actions.errors import ExternalError, UsageError

DEFAULT_RULES = (
    "type=schedule",
    "type=ref,event=branch",
    "type=ref,event=tag",
    "type=ref,event=pr",
)
PRIORITY = {"schedule": 1000, "semver": 900, "ref": 600, "raw": 200, "sha": 100}
_SEMVER = re.compile(
    r"^v?(?P<major>0|[1-9]\d*)\.(?P<minor>0|[1-9]\d*)\.(?P<patch>0|[1-9]\d*)"
    r"(?:-(?P<pre>[0-9A-Za-z.-]+))?(?:\+(?P<build>[0-9A-Za-z.-]+))?$"
)
_MOMENT = (
    ("YYYY", "%Y"),
    ("YY", "%y"),
    ("MM", "%m"),
    ("DD", "%d"),
    ("HH", "%H"),
    ("mm", "%M"),
    ("ss", "%S"),
)


@dataclass(frozen=True)
class Source:
    """What the pipeline runs for."""

    event: str  # branch, tag, pr, schedule
    sha: str = ""
    branch: str = ""
    tag: str = ""
    pr: str = ""
    default_branch: str = ""
    now: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))

    @property
    def is_default_branch(self) -> bool:
        return bool(self.branch) and self.branch == self.default_branch


def sanitize(text: str) -> str:
    """A valid tag: other characters become ``-``, at most 128, no leading ``.`` or ``-``."""
    tag = re.sub(r"[^a-zA-Z0-9._-]", "-", text)
    return re.sub(r"^[.-]+", "", tag)[:128]


def _github(env: Mapping[str, str]) -> Source:
    ref, event_name = env.get("GITHUB_REF", ""), env.get("GITHUB_EVENT_NAME", "")
    default = ""
    path = env.get("GITHUB_EVENT_PATH")
    if path and Path(path).is_file():
        try:
            payload = json.loads(Path(path).read_text(encoding="utf-8"))
            default = str((payload.get("repository") or {}).get("default_branch") or "")
        except (OSError, ValueError):
            default = ""
    sha = env.get("GITHUB_SHA", "")
    if event_name == "schedule":
        return Source(
            "schedule", sha, branch=ref.removeprefix("refs/heads/"), default_branch=default
        )
    if ref.startswith("refs/tags/"):
        return Source("tag", sha, tag=ref.removeprefix("refs/tags/"), default_branch=default)
    pull = re.match(r"^refs/pull/(\d+)/", ref)
    if pull:
        return Source(
            "pr",
            sha,
            branch=env.get("GITHUB_HEAD_REF", ""),
            pr=pull.group(1),
            default_branch=default,
        )
    return Source("branch", sha, branch=ref.removeprefix("refs/heads/"), default_branch=default)


def _gitlab(env: Mapping[str, str]) -> Source:
    sha, default = env.get("CI_COMMIT_SHA", ""), env.get("CI_DEFAULT_BRANCH", "")
    if env.get("CI_PIPELINE_SOURCE") == "schedule":
        return Source(
            "schedule", sha, branch=env.get("CI_COMMIT_BRANCH", ""), default_branch=default
        )
    if env.get("CI_COMMIT_TAG"):
        return Source("tag", sha, tag=env["CI_COMMIT_TAG"], default_branch=default)
    if env.get("CI_MERGE_REQUEST_IID"):
        return Source(
            "pr",
            sha,
            branch=env.get("CI_MERGE_REQUEST_SOURCE_BRANCH_NAME", ""),
            pr=env["CI_MERGE_REQUEST_IID"],
            default_branch=default,
        )
    branch = env.get("CI_COMMIT_BRANCH") or env.get("CI_COMMIT_REF_NAME", "")
    return Source("branch", sha, branch=branch, default_branch=default)


def _git(context: Path) -> Source:
    from gitops_actions.git import Repo

    repo = Repo(context)
    try:
        sha = repo.head_sha()
    except ExternalError:
        raise UsageError(
            "no CI variables and the context is not a git checkout: give --tags"
        ) from None
    tag = repo.git("describe", "--exact-match", "--tags", "HEAD", check=False).stdout.strip()
    branch = repo.git("symbolic-ref", "--short", "-q", "HEAD", check=False).stdout.strip()
    head = repo.git("symbolic-ref", "--short", "-q", "refs/remotes/origin/HEAD", check=False)
    default = head.stdout.strip().removeprefix("origin/") or "main"
    if tag:
        return Source("tag", sha, branch=branch, tag=tag, default_branch=default)
    return Source("branch", sha, branch=branch, default_branch=default)


def source(env: Mapping[str, str], context: Path) -> Source:
    """The event from GitHub Actions, GitLab CI, or (in a terminal) the git checkout."""
    if env.get("GITHUB_ACTIONS") == "true" and env.get("GITHUB_REF"):
        return _github(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab(env)
    return _git(context)


def _fields(rule: str) -> dict[str, str]:
    if "=" not in rule.split(",", 1)[0]:  # a bare value is type=raw
        return {"type": "raw", "value": rule}
    fields: dict[str, str] = {}
    for part in rule.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep:  # type=raw,foo
            key, value = "value", key
        fields[key] = value.strip()
    return fields


def _expand(text: str, src: Source) -> str:
    values = {
        "branch": src.branch,
        "tag": src.tag,
        "sha": src.sha[:7],
        "base_ref": src.default_branch,
        "is_default_branch": str(src.is_default_branch).lower(),
    }

    def one(match: re.Match[str]) -> str:
        expr = match.group(1).strip()
        date = re.fullmatch(r"date\s+'([^']*)'", expr)
        if date:
            fmt = date.group(1)
            for moment, strf in _MOMENT:
                fmt = fmt.replace(moment, strf)
            return src.now.strftime(fmt)
        if expr not in values:
            raise UsageError(f"unknown expression {{{{{expr}}}}} in a tag rule")
        return values[expr]

    return re.sub(r"\{\{([^}]*)\}\}", one, text)


def _enabled(value: str, src: Source, rule: str) -> bool:
    value = _expand(value, src).strip().lower()
    if value not in ("true", "false"):
        raise UsageError(
            f"tag rule {rule!r}: enable= takes true, false or {{{{is_default_branch}}}}"
        )
    return value == "true"


def _semver(fields: Mapping[str, str], src: Source, rule: str) -> tuple[str | None, bool]:
    """(the tag, whether it is a release) for a semver rule, or (None, False) when idle."""
    value = fields.get("value") or (src.tag if src.event == "tag" else "")
    found = _SEMVER.match(value)
    if not found:
        return None, False
    pattern = fields.get("pattern", "")
    if not pattern:
        raise UsageError(f"tag rule {rule!r}: type=semver needs pattern=")
    parts = found.groupdict()
    version = f"{parts['major']}.{parts['minor']}.{parts['patch']}"
    if parts["pre"]:
        # pre-releases only ever get their full version (metadata-action's rule)
        return version + f"-{parts['pre']}", False
    words = {"raw": value, "version": version, **{k: parts[k] for k in ("major", "minor", "patch")}}
    text = re.sub(
        r"\{\{\s*(raw|version|major|minor|patch)\s*\}\}", lambda m: str(words[m.group(1)]), pattern
    )
    return text, True


def _value(
    kind: str, fields: Mapping[str, str], src: Source, rule: str
) -> tuple[str | None, str | None, bool]:
    """(the tag's value, its prefix, whether it is a release) for one rule, None when idle."""
    prefix = fields.get("prefix")
    if kind == "schedule" and src.event == "schedule":
        return _expand(fields.get("pattern") or "nightly", src), prefix, False
    if kind == "ref":
        event = fields.get("event", "")
        if event not in ("branch", "tag", "pr"):
            raise UsageError(f"tag rule {rule!r}: event= is branch, tag or pr")
        if event != src.event:
            return None, prefix, False
        if event == "branch":
            return src.branch or None, prefix, False
        if event == "tag":  # latest in auto mode for any tag, pre-releases too
            return src.tag, prefix, True
        return src.pr, "pr-" if prefix is None else prefix, False
    if kind == "semver":
        value, release = _semver(fields, src, rule)
        return value, prefix, release
    if kind == "raw":
        return _expand(fields.get("value", ""), src), prefix, False
    if kind == "sha" and src.sha:
        value = src.sha if fields.get("format", "short") == "long" else src.sha[:7]
        return value, "sha-" if prefix is None else prefix, False
    return None, prefix, False


def render(rules: tuple[str, ...], flavor: tuple[str, ...], src: Source) -> list[str]:
    """The tags, highest priority first (ties in the order given), ``latest`` last."""
    flavors = {"latest": "auto", "prefix": "", "suffix": "", "onlatest": "false"}
    for item in flavor:
        key, sep, setting = item.partition("=")
        if not sep or key.strip() not in flavors:
            raise UsageError(f"--flavor {item!r}: expected latest=, prefix= or suffix=")
        flavors[key.strip()] = setting.strip()
    if flavors["latest"] not in ("auto", "true", "false"):
        raise UsageError(f"--flavor latest={flavors['latest']}: expected auto, true or false")
    found: list[tuple[int, int, str]] = []
    latest = flavors["latest"] == "true"
    for index, rule in enumerate(rules or DEFAULT_RULES):
        fields = _fields(rule)
        kind = fields.get("type", "")
        if kind not in PRIORITY:
            raise UsageError(f"tag rule {rule!r}: type= is one of {', '.join(PRIORITY)}")
        if not _enabled(fields.get("enable", "true"), src, rule):
            continue
        value, prefix, release = _value(kind, fields, src, rule)
        suffix = fields.get("suffix", "")
        if not value:
            continue
        latest = latest or (flavors["latest"] == "auto" and release)
        text = _expand(prefix or "", src) + value + _expand(suffix, src)
        tag = sanitize(flavors["prefix"] + text + flavors["suffix"])
        priority = int(fields.get("priority", PRIORITY[kind]))
        found.append((-priority, index, tag))
    tags: list[str] = []
    for _, _, tag in sorted(found):
        if tag and tag not in tags:
            tags.append(tag)
    if latest:
        name = "latest"
        if flavors["onlatest"] == "true":
            name = sanitize(flavors["prefix"] + name + flavors["suffix"])
        if name not in tags:
            tags.append(name)
    return tags
