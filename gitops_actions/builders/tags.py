"""Image tags from rules, with the meanings, defaults and order of docker/metadata-action.

    type=schedule[,pattern=nightly|{{date 'YYYYMMDD' tz='Asia/Tokyo'}}]   scheduled runs
    type=semver,pattern={{version}}|{{major}}.{{minor}}|{{major}}|{{raw}}[,value=,match=]
    type=pep440,pattern=... (as semver, PEP 440 versions)
    type=match,pattern=v(.*)[,group=1][,value=]                 a tag's regex match
    type=edge[,branch=main]                                     edge on that branch
    type=ref,event=branch|tag|pr          my/branch -> my-branch, v1.2.3, pr-2
    type=raw,value=foo (or just foo)      type=sha[,format=long]  -> sha-ad132f5
    every rule: enable=true|false|{{is_default_branch}}, prefix=, suffix=, priority=
    flavor: latest=auto|true|false, prefix=[,onlatest=true], suffix=[,onlatest=true]

No rules means metadata-action's defaults: schedule, and ref for branch, tag and pr events.
Rules are taken highest priority first (ties in the order given); the first one that gives
a tag decides ``latest`` in auto mode: yes for ref,event=tag and match, for semver and
pep440 only on a final release, no for the others. A rule's own ``prefix``/``suffix``
replaces the flavor's (ref,event=pr and sha have ``pr-`` and ``sha-`` of their own).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import re
from collections.abc import Callable, Mapping

from gitops_actions.builders import versions
from gitops_actions.builders.events import Source
from gitops_actions.errors import UsageError

DEFAULT_RULES = (
    "type=schedule",
    "type=ref,event=branch",
    "type=ref,event=tag",
    "type=ref,event=pr",
)
PRIORITY = {
    "schedule": 1000,
    "semver": 900,
    "pep440": 900,
    "match": 800,
    "edge": 700,
    "ref": 600,
    "raw": 200,
    "sha": 100,
}
REQUIRED = {"semver": "pattern", "pep440": "pattern", "match": "pattern", "raw": "value"}
_MOMENT = re.compile(r"\[[^\]]*\]|YYYY|YY|MM|M|DD|D|HH|H|mm|m|ss|s|SSS|Z|.", re.DOTALL)
_STRF = {"YYYY": "%Y", "YY": "%y", "MM": "%m", "DD": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}


def sanitize(text: str) -> str:
    """A valid tag: each run of other characters becomes one ``-`` (metadata-action's rule);
    then, as registries require, no leading ``.`` or ``-`` and at most 128 characters."""
    tag = re.sub(r"[^a-zA-Z0-9._-]+", "-", text)
    return re.sub(r"^[.-]+", "", tag)[:128]


def _moment(fmt: str, when: dt.datetime) -> str:
    """A moment.js format (the tokens tags use) rendered for ``when``."""

    def one(token: str) -> str:
        if token.startswith("["):
            return token[1:-1]
        if token in _STRF:
            return when.strftime(_STRF[token])
        numbers = {"M": when.month, "D": when.day, "H": when.hour, "m": when.minute}
        if token in numbers or token == "s":
            return str(numbers.get(token, when.second))
        if token == "SSS":
            return f"{when.microsecond // 1000:03d}"
        if token == "Z":
            return when.strftime("%z")[:3] + ":" + when.strftime("%z")[3:]
        return token

    return "".join(one(m.group(0)) for m in _MOMENT.finditer(fmt))


def _date(args: str, when: dt.datetime) -> str:
    found = re.fullmatch(r"'([^']*)'(?:\s+tz\s*=\s*'([^']*)')?\s*", args)
    if not found:
        raise UsageError(f"date expression {args!r}: expected 'FORMAT' [tz='ZONE']")
    zone: dt.tzinfo = dt.UTC
    if found.group(2) and found.group(2) != "UTC":
        import zoneinfo  # only for a tz=: loading it costs start-up time

        try:
            zone = zoneinfo.ZoneInfo(found.group(2))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"date expression {args!r}: unknown time zone") from None
    return _moment(found.group(1), when.astimezone(zone))


def expand(text: str, src: Source) -> str:
    """metadata-action's global expressions in a value, prefix, suffix or enable."""
    values = {
        "branch": src.branch,
        "tag": src.tag,
        "sha": src.short_sha,
        "base_ref": src.base_ref,
        "is_default_branch": str(src.is_default_branch).lower(),
        "is_not_default_branch": str(not src.is_default_branch).lower(),
    }

    def one(match: re.Match[str]) -> str:
        name, _, args = match.group(1).strip().partition(" ")
        if name == "date":
            return _date(args.strip(), src.now)
        if name == "commit_date":
            return _date(args.strip(), src.commit_date or src.now)
        if name not in values or args:
            raise UsageError(f"unknown expression {{{{{match.group(1).strip()}}}}} in a tag rule")
        return values[name]

    return re.sub(r"\{\{([^}]*)\}\}", one, text)


def _attrs(rule: str) -> dict[str, str]:
    """A rule's attributes as metadata-action reads them: a CSV line of KEY=VALUE fields (a
    field without ``=`` is the value), type raw unless given, each type's defaults."""
    attrs: dict[str, str] = {}
    for part in next(csv.reader([rule], skipinitialspace=True), []):
        key, sep, value = part.partition("=")
        if sep:
            attrs[key.strip().lower()] = value.strip()
        elif part.strip():
            attrs["value"] = part.strip()
    kind = attrs.setdefault("type", "raw")
    if kind not in PRIORITY:
        raise UsageError(f"tag rule {rule!r}: type= is one of {', '.join(PRIORITY)}")
    if kind in REQUIRED and REQUIRED[kind] not in attrs:
        raise UsageError(f"tag rule {rule!r}: type={kind} needs {REQUIRED[kind]}=")
    if kind == "ref" and attrs.get("event") not in ("branch", "tag", "pr"):
        raise UsageError(f"tag rule {rule!r}: event= is branch, tag or pr")
    if kind == "sha" and attrs.setdefault("format", "short") not in ("short", "long"):
        raise UsageError(f"tag rule {rule!r}: format= is short or long")
    if kind == "match" and not attrs.setdefault("group", "0").isdigit():
        raise UsageError(f"tag rule {rule!r}: group= is a number")
    for key in {"match": ("pattern",), "semver": ("match",), "pep440": ("match",)}.get(kind, ()):
        try:
            _regex(attrs.get(key, ""))
        except re.error as err:
            raise UsageError(
                f"tag rule {rule!r}: {key}= is no regular expression ({err})"
            ) from None
    if kind == "schedule":
        attrs.setdefault("pattern", "nightly")
    if kind == "sha" or (kind == "ref" and attrs["event"] == "pr"):
        attrs.setdefault("prefix", "sha-" if kind == "sha" else "pr-")
    attrs.setdefault("priority", str(PRIORITY[kind]))
    if not re.fullmatch(r"-?\d+", attrs["priority"]):
        raise UsageError(f"tag rule {rule!r}: priority= is a whole number")
    return attrs


def _version(
    parse: Callable[[str], versions.Version | None], attrs: Mapping[str, str], src: Source
) -> tuple[str, bool] | None:
    """A semver or pep440 rule: (the tag, whether a final release) or None when idle."""
    value = expand(attrs["value"], src) if attrs.get("value") else src.tag
    if not value:
        return None
    if attrs.get("match"):
        found = _regex(attrs["match"]).search(value)
        if found and found.groups():
            value = found.group(1)
    version = parse(value.replace("/", "-"))
    if version is None:
        return None
    pattern = attrs["pattern"]
    if not version.release:  # pre-releases only ever get their version (or {{raw}})
        only_raw = re.fullmatch(r"\{\{\s*raw\s*\}\}", pattern)
        return (version.raw if only_raw else version.version), False
    fields = version.fields()

    def one(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if name not in fields:
            raise UsageError(f"unknown expression {{{{{name}}}}} in a {attrs['type']} pattern")
        return fields[name]

    return re.sub(r"\{\{([^}]*)\}\}", one, pattern), True


@functools.lru_cache(maxsize=64)
def _regex(pattern: str) -> re.Pattern[str]:
    """A rule's regular expression; ``/pattern/flags`` as JavaScript writes one."""
    flags = 0
    literal = re.fullmatch(r"/(.+)/([a-z]*)", pattern)
    if literal:
        pattern = literal.group(1)
        for flag in literal.group(2):
            flags |= {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}.get(flag, 0)
    return re.compile(pattern, flags)


def _match(attrs: Mapping[str, str], src: Source) -> str | None:
    value = expand(attrs["value"], src) if attrs.get("value") else src.tag
    found = _regex(attrs["pattern"]).search(value) if value else None
    group = int(attrs["group"])
    if not found or group > len(found.groups()):
        return None
    return found.group(group)


def _value(attrs: Mapping[str, str], src: Source) -> tuple[str | None, bool]:
    """(the rule's value before prefix and suffix, whether latest comes with it in auto
    mode); None when the rule does not apply to this event."""
    kind, event = attrs["type"], attrs.get("event")
    if kind == "schedule":
        return (expand(attrs["pattern"], src) if src.event == "schedule" else None), False
    if kind in ("semver", "pep440"):
        parse = versions.semver if kind == "semver" else versions.pep440
        made = _version(parse, attrs, src)
        return made if made else (None, False)
    if kind == "match":
        return _match(attrs, src), True
    if kind == "edge":
        on = attrs.get("branch") or src.default_branch
        return ("edge" if src.branch and src.branch == on else None), False
    if kind == "ref":
        found = {"branch": src.branch, "tag": src.tag, "pr": src.pr}[str(event)]
        return (found or None), event == "tag"
    if kind == "raw":
        return expand(attrs["value"], src), False
    if not src.sha:
        return None, False
    return (src.sha if attrs["format"] == "long" else src.short_sha), False


def _flavor(items: tuple[str, ...]) -> dict[str, str]:
    flavor = {
        "latest": "auto",
        "prefix": "",
        "suffix": "",
        "prefix_latest": "",
        "suffix_latest": "",
    }
    for item in items:
        last = ""
        for part in next(csv.reader([item], skipinitialspace=True), []):
            key, sep, value = (p.strip() for p in part.partition("="))
            key = key.lower()
            if not sep or key not in ("latest", "prefix", "suffix", "onlatest"):
                raise UsageError(f"--flavor {item!r}: expected latest=, prefix= or suffix=")
            if key == "latest" and value not in ("auto", "true", "false"):
                raise UsageError(f"--flavor {item!r}: latest= is auto, true or false")
            if key == "onlatest":
                if value not in ("true", "false"):
                    raise UsageError(f"--flavor {item!r}: onlatest= is true or false")
                if last:
                    flavor[f"{last}_latest"] = "" if value == "false" else "yes"
                continue
            flavor[key], last = value, key if key != "latest" else ""
    return flavor


def render(rules: tuple[str, ...], flavor_items: tuple[str, ...], src: Source) -> list[str]:
    """The tags, highest priority first (ties in the order given), ``latest`` last."""
    flavor = _flavor(flavor_items)
    parsed = [_attrs(rule) for rule in rules or DEFAULT_RULES]
    parsed.sort(key=lambda attrs: -int(attrs["priority"]))  # stable: ties keep their order
    tags: list[str] = []
    latest: bool | None = None
    for attrs in parsed:
        enable = expand(attrs.get("enable", "true"), src).strip()
        if enable not in ("true", "false"):
            raise UsageError(f"enable={enable}: expected true, false or {{{{is_default_branch}}}}")
        if enable == "false":
            continue
        value, auto_latest = _value(attrs, src)
        if not value:
            continue
        affixes = []
        for key in ("prefix", "suffix"):
            affixes.append(expand(attrs[key] if key in attrs else flavor[key], src))
        tag = sanitize(affixes[0] + value + affixes[1])
        if latest is None:
            latest = auto_latest if flavor["latest"] == "auto" else flavor["latest"] == "true"
        if tag and tag not in tags:
            tags.append(tag)
    if latest:
        name = sanitize(
            (flavor["prefix"] if flavor["prefix_latest"] else "")
            + "latest"
            + (flavor["suffix"] if flavor["suffix_latest"] else "")
        )
        if name not in tags:
            tags.append(name)
    return tags
