"""Is a delivery authentic, which is it, and may its repository be served?

GitHub signs the raw body: ``X-Hub-Signature-256: sha256=<HMAC-SHA256 hex>`` is required;
a delivery carrying only the SHA-1 ``X-Hub-Signature`` is refused. GitLab sends the shared
secret itself in ``X-Gitlab-Token``. Both are compared in constant time.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

MAX_BODY = 25 * 1024 * 1024  # what GitHub sends at most; larger deliveries are refused (413)


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


def github_signature(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def check(forge: str, secret: bytes, headers: Mapping[str, str], body: bytes) -> Refusal | None:
    """None when the delivery is authentic, else why not (401)."""
    if forge == "github":
        given = headers.get("X-Hub-Signature-256", "")
        if not given:
            if headers.get("X-Hub-Signature"):
                return Refusal(401, "SHA-1 signatures are refused: X-Hub-Signature-256 required")
            return Refusal(401, "missing X-Hub-Signature-256")
        expected = github_signature(secret, body)
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            return Refusal(401, "signature does not match")
        return None
    token = headers.get("X-Gitlab-Token", "")
    if not token:
        return Refusal(401, "missing X-Gitlab-Token")
    if not hmac.compare_digest(token.encode(), secret):
        return Refusal(401, "token does not match")
    return None


def event_kind(forge: str, headers: Mapping[str, str]) -> str:
    return headers.get("X-GitHub-Event" if forge == "github" else "X-Gitlab-Event", "")


def delivery_id(forge: str, headers: Mapping[str, str]) -> str:
    """The forge's id of this delivery ("" when it sent none)."""
    if forge == "github":
        return headers.get("X-GitHub-Delivery", "").strip()[:200]
    found = headers.get("X-Gitlab-Event-UUID") or headers.get("Idempotency-Key") or ""
    return found.strip()[:200]


def allowed(project: str, globs: Sequence[str]) -> bool:
    """Whether ``project`` (owner/name, group/sub/name) matches one of the globs."""
    name = project.lower()
    return any(fnmatch.fnmatchcase(name, glob.lower()) for glob in globs)
