"""Talking to a registry: credentials in a private auth file, which push failures are worth a
retry, and what digest a tag resolves to (HTTP API v2, with the token flow)."""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_actions.errors import ExternalError
from gitops_actions.imageref import ImageRef
from gitops_actions.secrets import REDACTOR

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
TIMEOUT = 30.0


@dataclass(frozen=True)
class Credentials:
    registry: str
    username: str
    password: str

    def __post_init__(self) -> None:
        REDACTOR.learn(self.password)
        REDACTOR.learn(f"{self.username}:{self.password}")


def registry_of(ref: ImageRef) -> str:
    """The registry host of a reference, as an auth file keys it."""
    host = ref.name.split("/", 1)[0]
    return "https://index.docker.io/v1/" if host == "docker.io" else host


def is_loopback(registry: str) -> bool:
    host = registry.rsplit(":", 1)[0] if registry.count(":") == 1 else registry
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def from_env(registry: str, env: Mapping[str, str]) -> Credentials | None:
    """The usual CI variables: GitLab's job registry, or ``GITHUB_TOKEN`` for ghcr.io."""
    if env.get("CI_REGISTRY") == registry and env.get("CI_REGISTRY_PASSWORD"):
        return Credentials(registry, env.get("CI_REGISTRY_USER", ""), env["CI_REGISTRY_PASSWORD"])
    if registry == "ghcr.io" and env.get("GITHUB_TOKEN"):
        return Credentials(registry, env.get("GITHUB_ACTOR", "x-access-token"), env["GITHUB_TOKEN"])
    return None


@contextlib.contextmanager
def auth_file(credentials: Credentials | None) -> Iterator[Path | None]:
    """A private ``config.json`` (docker ``--config`` dir and buildah ``--authfile``) holding
    the credentials for the run only; removed afterwards. Credentials never go on argv."""
    if credentials is None:
        yield None
        return
    with tempfile.TemporaryDirectory(prefix="gitops-auth-") as tmp:
        path = Path(tmp) / "config.json"
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode())
        REDACTOR.learn(token.decode())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"auths": {credentials.registry: {"auth": token.decode()}}}, f)
        yield path


_DENIED = re.compile(
    r"unauthorized|authentication required|\b401\b|\b403\b|denied|forbidden|no basic auth",
    re.IGNORECASE,
)
_TRANSIENT = re.compile(
    r"\b5\d\d\b|internal server error|bad gateway|service unavailable|gateway time-?out"
    r"|\b429\b|too ?many ?requests|connection reset|broken pipe|unexpected EOF|i/o timeout"
    r"|TLS handshake timeout",
    re.IGNORECASE,
)


def push_error(ref: str, output: str) -> ExternalError:
    """The error for a failed push, transient only when trying again may help."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "no output"
    output = "\n".join(lines[-8:])  # the error, not the progress lines before it
    if _DENIED.search(output):
        return ExternalError(
            f"push of {ref} refused: {last}",
            transient=False,
            hint="check the registry credentials (--registry-user, --registry-password-stdin)",
        )
    return ExternalError(f"push of {ref} failed: {last}", transient=bool(_TRANSIENT.search(output)))


def resolve(ref: ImageRef, credentials: Credentials | None = None) -> str:
    """The digest the registry serves for ``ref``'s tag, asked over HTTP API v2.

    Follows the registry's challenge: a bearer token from its realm (with the credentials
    when given) or basic auth. HTTP for loopback registries, as the engines do, else HTTPS.
    """
    import requests

    host = ref.name.split("/", 1)[0]
    repository = ref.name.split("/", 1)[1]
    if host == "docker.io":
        host = "registry-1.docker.io"
    scheme = "http" if is_loopback(host) else "https"
    url = f"{scheme}://{host}/v2/{repository}/manifests/{ref.tag or 'latest'}"
    headers = {"Accept": ", ".join(MANIFEST_TYPES)}
    basic = (credentials.username, credentials.password) if credentials else None
    try:
        with requests.Session() as session:
            answer = session.head(url, headers=headers, timeout=TIMEOUT)
            if answer.status_code == 401:
                challenge = answer.headers.get("WWW-Authenticate", "")
                if challenge.lower().startswith("bearer"):
                    headers["Authorization"] = "Bearer " + _token(
                        session, challenge, repository, basic
                    )
                    answer = session.head(url, headers=headers, timeout=TIMEOUT)
                elif basic:
                    answer = session.head(url, headers=headers, auth=basic, timeout=TIMEOUT)
    except requests.RequestException as err:
        raise ExternalError(f"cannot ask {host} for {ref}: {err}") from None
    if answer.status_code in (401, 403):
        raise ExternalError(
            f"{host} refused to say what {ref} is: HTTP {answer.status_code}", transient=False
        )
    if answer.status_code == 404:
        raise ExternalError(f"{host} does not serve {ref} (HTTP 404)", transient=False)
    if answer.status_code != 200 or not answer.headers.get("Docker-Content-Digest"):
        raise ExternalError(
            f"{host} gave no digest for {ref}: HTTP {answer.status_code}",
            transient=answer.status_code >= 500 or answer.status_code == 429,
        )
    return answer.headers["Docker-Content-Digest"]


def _token(session: object, challenge: str, repository: str, basic: tuple[str, str] | None) -> str:
    import requests

    assert isinstance(session, requests.Session)
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", "")
    if not realm:
        raise ExternalError(f"registry challenge without a realm: {challenge}", transient=False)
    query = {"service": params.get("service", ""), "scope": f"repository:{repository}:pull"}
    answer = session.get(realm, params=query, auth=basic, timeout=TIMEOUT)
    if answer.status_code != 200:
        raise ExternalError(
            f"token service {realm} refused: HTTP {answer.status_code}",
            transient=answer.status_code >= 500,
        )
    body = answer.json()
    token = str(body.get("token") or body.get("access_token") or "")
    REDACTOR.learn(token)
    return token
