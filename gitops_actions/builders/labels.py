"""OCI labels and annotations (``org.opencontainers.image.*``) from the CI context and the repo,
as docker/metadata-action fills them; the user's ``--labels``/``--annotations`` win."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gitops_actions.errors import ExternalError

PREFIX = "org.opencontainers.image."
_LICENSES = (  # the first words of common license files, and their SPDX identifiers
    (r"Apache License\s+Version 2\.0", "Apache-2.0"),
    (r"^\s*MIT License|Permission is hereby granted, free of charge", "MIT"),
    (r"Mozilla Public License Version 2\.0", "MPL-2.0"),
    (r"GNU GENERAL PUBLIC LICENSE\s+Version 3", "GPL-3.0"),
    (r"GNU AFFERO GENERAL PUBLIC LICENSE\s+Version 3", "AGPL-3.0"),
)  # compiled when a license file is read, not at every start-up


def _payload(env: Mapping[str, str]) -> dict[str, Any]:
    path = env.get("GITHUB_EVENT_PATH")
    try:
        loaded = json.loads(Path(path).read_text(encoding="utf-8")) if path else {}
    except (OSError, ValueError):
        return {}
    repository = loaded.get("repository") if isinstance(loaded, dict) else None
    return repository if isinstance(repository, dict) else {}


def _license_file(context: Path) -> str:
    for folder in (context, *context.resolve().parents):
        for name in ("LICENSE", "LICENSE.md", "LICENSE.txt", "COPYING"):
            path = folder / name
            if path.is_file():
                head = path.read_text(encoding="utf-8", errors="replace")[:2000]
                found = (spdx for pattern, spdx in _LICENSES if re.search(pattern, head, re.I))
                return next(found, "")
        if (folder / ".git").exists():
            break
    return ""


def _https(remote: str) -> str:
    """A browsable URL for a git remote: ``git@host:a/b.git`` is ``https://host/a/b``."""
    scp = re.match(r"^[\w.-]+@([\w.-]+):(.+?)(?:\.git)?/?$", remote)
    if scp:
        return f"https://{scp.group(1)}/{scp.group(2)}"
    web = re.match(r"^(?:https?|ssh)://(?:[^@/]+@)?([^/]+)/(.+?)(?:\.git)?/?$", remote)
    return f"https://{web.group(1)}/{web.group(2)}" if web else ""


def _git(context: Path) -> dict[str, str]:
    from gitops_actions.git import Repo

    repo = Repo(context)
    try:
        sha = repo.head_sha()
    except ExternalError:
        return {}
    remote = repo.git("remote", "get-url", "origin", check=False).stdout.strip()
    url = _https(remote)
    title = url.rstrip("/").rsplit("/", 1)[-1] if url else context.resolve().name
    return {"title": title, "url": url, "source": url, "revision": sha}


def created(env: Mapping[str, str]) -> str:
    """Now, or ``SOURCE_DATE_EPOCH`` for reproducible builds, in RFC 3339 (UTC)."""
    epoch = env.get("SOURCE_DATE_EPOCH", "")
    when = (
        dt.datetime.fromtimestamp(int(epoch), dt.UTC)
        if epoch.isdigit()
        else dt.datetime.now(dt.UTC)
    )
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def oci(env: Mapping[str, str], context: Path, version: str) -> dict[str, str]:
    """The eight OCI keys, from GitHub's or GitLab's variables, else the git checkout."""
    found: dict[str, str] = {}
    if env.get("GITHUB_REPOSITORY"):
        repo = _payload(env)
        server = env.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        url = str(repo.get("html_url") or f"{server}/{env['GITHUB_REPOSITORY']}")
        found = {
            "title": str(repo.get("name") or env["GITHUB_REPOSITORY"].rsplit("/", 1)[-1]),
            "description": str(repo.get("description") or ""),
            "url": url,
            "source": url,
            "revision": env.get("GITHUB_SHA", ""),
            "licenses": str((repo.get("license") or {}).get("spdx_id") or ""),
        }
    elif env.get("CI_PROJECT_URL"):
        found = {
            "title": env.get("CI_PROJECT_TITLE") or env.get("CI_PROJECT_NAME", ""),
            "description": env.get("CI_PROJECT_DESCRIPTION", ""),
            "url": env["CI_PROJECT_URL"],
            "source": env["CI_PROJECT_URL"],
            "revision": env.get("CI_COMMIT_SHA", ""),
        }
    else:
        found = _git(context) or {"title": context.resolve().name}
    found["version"] = version
    found["created"] = created(env)
    if not found.get("licenses") or found["licenses"] == "NOASSERTION":
        found["licenses"] = _license_file(context)
    order = ("title", "description", "url", "source", "version", "created", "revision", "licenses")
    return {PREFIX + key: found[key] for key in order if found.get(key)}


def merged(defaults: Mapping[str, str], overrides: Mapping[str, str]) -> dict[str, str]:
    """The defaults with the user's values on top; an empty value removes a default."""
    return {key: value for key, value in {**defaults, **overrides}.items() if value != ""}
