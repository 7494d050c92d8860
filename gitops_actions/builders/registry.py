"""Talking to a registry: credentials in a private auth file, which push failures are worth a
retry, and what digest a tag resolves to (HTTP API v2, with the token flow)."""

from __future__ import annotations

import base64
import contextlib
import importlib
import ipaddress
import json
import os
import re
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from gitops_actions.errors import CheckFailed, ExternalError
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
    import tempfile  # with shutil, bz2 and lzma: only when there are credentials to write

    with tempfile.TemporaryDirectory(prefix="gitops-auth-") as tmp:
        path = Path(tmp) / "config.json"
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode())
        REDACTOR.learn(token.decode())
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"auths": {credentials.registry: {"auth": token.decode()}}}, f)
        yield path


_CREDENTIALS = "check the registry credentials (--registry-user, --registry-password-stdin)"
# compiled on the first failed push only (through re's cache), not at every start-up
_DENIED = r"unauthorized|authentication required|\b401\b|\b403\b|denied|forbidden|no basic auth"
_TRANSIENT = (
    r"\b5\d\d\b|internal server error|bad gateway|service unavailable|gateway time-?out"
    r"|\b429\b|too ?many ?requests|connection reset|broken pipe|unexpected EOF|i/o timeout"
    r"|TLS handshake timeout"
)


def push_error(ref: str, output: str) -> ExternalError:
    """The error for a failed push, transient only when trying again may help."""
    lines = [line for line in output.strip().splitlines() if line.strip()]
    last = lines[-1].strip() if lines else "no output"
    output = "\n".join(lines[-8:])  # the error, not the progress lines before it
    if re.search(_DENIED, output, re.IGNORECASE):
        return ExternalError(
            f"push of {ref} refused: {last}",
            transient=False,
            hint=_CREDENTIALS,
        )
    return ExternalError(
        f"push of {ref} failed: {last}",
        transient=bool(re.search(_TRANSIENT, output, re.IGNORECASE)),
    )


def _ask(
    method: str, url: str, headers: Mapping[str, str], body: bytes | None = None
) -> tuple[int, Mapping[str, str], bytes]:
    """One HTTP request (stdlib only: this runs once per build, start-up time counts);
    header names in lower case. The HTTP client (with ssl) is imported here, not before the
    build: ``preload`` loads it while the build runs."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=body, headers=dict(headers), method=method)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            return answer.status, _lower(answer.headers.items()), answer.read()
    except urllib.error.HTTPError as err:
        return err.code, _lower(err.headers.items()), err.read()
    except (urllib.error.URLError, OSError) as err:
        host = urllib.parse.urlsplit(url).netloc
        raise ExternalError(f"cannot ask {host}: {getattr(err, 'reason', err)}") from None


def preload() -> threading.Thread:
    """Import the HTTP client (urllib, http.client, ssl: a tenth of a second of start-up) in
    a thread, to overlap the build that comes before any registry question."""
    thread = threading.Thread(target=importlib.import_module, args=("urllib.request",))
    thread.daemon = True
    thread.start()
    return thread


def _lower(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    return {key.lower(): value for key, value in headers}


def _basic(credentials: Credentials) -> str:
    pair = f"{credentials.username}:{credentials.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()


class Api:
    """The HTTP API v2 of one repository (``host/repository``, as ``ImageRef.name``).

    Follows the registry's challenge: a bearer token from its realm (with the credentials
    when given) or basic auth, kept per scope (pull, or pull and push) for the next request.
    HTTP for loopback registries, as the engines do, else HTTPS.
    """

    def __init__(self, name: str, credentials: Credentials | None = None) -> None:
        host, _, self.repository = name.partition("/")
        self.host = "registry-1.docker.io" if host == "docker.io" else host
        scheme = "http" if is_loopback(self.host) else "https"
        self.base = f"{scheme}://{self.host}/v2/{self.repository}"
        self.credentials = credentials
        self._auth: dict[str, str] = {}  # scope -> Authorization header

    def ask(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> tuple[int, Mapping[str, str], bytes]:
        """``method`` on ``/v2/<repository>/<path>``; writes ask for the push scope."""
        scope = "pull" if method in ("GET", "HEAD") else "pull,push"
        url, sent = f"{self.base}/{path}", dict(headers or {})
        if scope in self._auth:
            sent["Authorization"] = self._auth[scope]
        status, answer, data = _ask(method, url, sent, body)
        if status == 401 and scope not in self._auth:
            challenge = answer.get("www-authenticate", "")
            if challenge.lower().startswith("bearer"):
                token = _token(challenge, self.repository, self.credentials, scope)
                self._auth[scope] = "Bearer " + token
            elif self.credentials:
                self._auth[scope] = _basic(self.credentials)
            else:
                return status, answer, data
            sent["Authorization"] = self._auth[scope]
            status, answer, data = _ask(method, url, sent, body)
        return status, answer, data

    def failure(self, what: str, status: int, body: bytes) -> ExternalError:
        """The error for an answer that is not a success: retried on 5xx and 429 only."""
        try:
            said = "; ".join(e.get("message") or e["code"] for e in json.loads(body)["errors"])
        except (ValueError, KeyError, TypeError, AttributeError):
            said = ""
        message = f"{what}: {self.host} answered HTTP {status}" + (f" ({said})" if said else "")
        if status in (401, 403):
            return ExternalError(message, transient=False, hint=_CREDENTIALS)
        return ExternalError(message, transient=status >= 500 or status == 429)

    def manifest(self, reference: str) -> tuple[str, bytes]:
        """(media type, bytes) of the manifest or index at ``reference`` (tag or digest)."""
        found = self.find(reference)
        if found is None:
            raise self.failure(f"GET of {self.repository}@{reference[:19]}", 404, b"")
        return found

    def find(self, reference: str) -> tuple[str, bytes] | None:
        """``manifest``, or None when the registry has none at ``reference`` (HTTP 404)."""
        status, answer, body = self.ask(
            "GET", f"manifests/{reference}", {"Accept": ", ".join(MANIFEST_TYPES)}
        )
        if status == 404:
            return None
        if status != 200:
            raise self.failure(f"GET of {self.repository}@{reference[:19]}", status, body)
        return answer.get("content-type", "").split(";")[0].strip(), body

    def put_manifest(self, reference: str, media_type: str, body: bytes) -> str:
        """Store ``body`` at ``reference``; the digest the registry says it stored."""
        status, answer, said = self.ask(
            "PUT", f"manifests/{reference}", {"Content-Type": media_type}, body
        )
        if status not in (200, 201):
            raise self.failure(f"PUT of {self.repository}:{reference}", status, said)
        return answer.get("docker-content-digest", "")


def resolve(ref: ImageRef, credentials: Credentials | None = None) -> str:
    """The digest the registry serves for ``ref``'s tag, asked over HTTP API v2."""
    api = Api(ref.name, credentials)
    host = api.host
    tag = ref.tag or "latest"
    status, answer, _ = api.ask("HEAD", f"manifests/{tag}", {"Accept": ", ".join(MANIFEST_TYPES)})
    if status in (401, 403):
        raise ExternalError(f"{host} refused to say what {ref} is: HTTP {status}", transient=False)
    if status == 404:  # the registry's answer, not its failure: the check fails (exit 1)
        raise CheckFailed(
            f"{host} does not serve {ref} (HTTP 404)",
            hint="push the image first, or pin a tag the registry serves",
        )
    digest = answer.get("docker-content-digest", "")
    if status != 200 or not digest:
        raise ExternalError(
            f"{host} gave no digest for {ref}: HTTP {status}",
            transient=status >= 500 or status == 429,
        )
    return str(digest)


def _token(
    challenge: str, repository: str, credentials: Credentials | None, actions: str = "pull"
) -> str:
    params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
    realm = params.pop("realm", "")
    if not realm:
        raise ExternalError(f"registry challenge without a realm: {challenge}", transient=False)
    query = {"service": params.get("service", ""), "scope": f"repository:{repository}:{actions}"}
    headers = {"Authorization": _basic(credentials)} if credentials else {}
    status, _, body = _ask("GET", f"{realm}?{urllib.parse.urlencode(query)}", headers)
    if status != 200:
        raise ExternalError(
            f"token service {realm} refused: HTTP {status}", transient=status >= 500
        )
    try:
        loaded = json.loads(body)
    except ValueError:
        loaded = {}
    token = str(loaded.get("token") or loaded.get("access_token") or "")
    REDACTOR.learn(token)
    return token
