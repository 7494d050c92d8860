"""A forge made of files, for demos and tests: one JSON file per pull request.

Each pull request is ``<directory>/pulls/<number>.json`` holding ``number``, ``url``,
``project``, ``head``, ``base``, ``title``, ``body`` and ``state``. Files are written whole and
atomically, so a reader never sees half a pull request; writers take a lock on the
directory, so two of them never share a number or open the same pull request twice.

Deployments (what handoff records) are ``<directory>/deployments/<id>.json`` with their
statuses, newest last.

Comments on pull request ``N`` are markdown files ``<directory>/comments/N/<key>.md``,
also written whole and atomically; the key names the file (``config-1`` for the first
part of the ``config`` diff comment) and the file's path is the comment's URL.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitops_actions.errors import InputError, UsageError
from gitops_actions.forge import (
    COMMENT_LIMITS,
    Comment,
    Deployment,
    DeploymentStatus,
    PullRequest,
)

OPEN = "open"
COMMENT_LIMIT = COMMENT_LIMITS["local"]
_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


class LocalForge:
    name = "local"

    def __init__(
        self, directory: str | os.PathLike[str], *, comment_limit: int = COMMENT_LIMIT
    ) -> None:
        self.directory = Path(directory).resolve()
        self.pulls = self.directory / "pulls"
        self.comment_limit = comment_limit

    def check(self, project: str) -> None:
        """The directory can hold pull requests: created, written to, its records read."""
        try:
            self.pulls.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.pulls, prefix=".check-", suffix=".tmp")
            os.close(fd)
            os.unlink(probe)
        except OSError as err:
            raise UsageError(
                f"local forge: cannot keep pull requests in {self.directory} (--forge-dir): "
                f"{err.strerror or err}"
            ) from None
        for _ in self.records():
            pass

    def upsert_pull_request(
        self, *, project: str, head: str, base: str, title: str, body: str
    ) -> PullRequest:
        wanted = {"project": project, "head": head, "base": base}
        with self._locked():
            for path, record in self.records():
                if record.get("state", OPEN) != OPEN:
                    continue
                if all(record.get(key) == value for key, value in wanted.items()):
                    if record.get("title") != title or record.get("body") != body:
                        self._write(path, record | {"title": title, "body": body})
                    return PullRequest(int(record["number"]), str(record["url"]), created=False)
            paths = self._paths()
            number = int(paths[-1].stem) + 1 if paths else 1
            path = self.pulls / f"{number}.json"
            fields = {"title": title, "body": body, "state": OPEN}
            self._write(path, {"number": number, "url": path.as_uri(), **wanted, **fields})
            return PullRequest(number, path.as_uri(), created=True)

    def records(self) -> Iterator[tuple[Path, dict[str, Any]]]:
        """Every pull request on file, oldest first."""
        for path in self._paths():
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                raise InputError(f"cannot read pull request: {err}", path=str(path)) from err
            if not isinstance(record, dict) or not {"number", "url"} <= record.keys():
                raise InputError("not a pull request record", path=str(path))
            yield path, record

    # -- comments ------------------------------------------------------------------------
    def _comments(self, number: int) -> Path:
        return self.directory / "comments" / str(int(number))

    def _file(self, number: int, name: str) -> Path:
        if not _KEY.fullmatch(name.removesuffix(".md")):
            raise UsageError(f"local forge: {name!r} cannot name a comment file")
        return self._comments(number) / (name if name.endswith(".md") else f"{name}.md")

    def pull_request_head(self, *, project: str, number: int) -> str:
        return ""  # pull requests on file do not record commits

    def identity(self) -> str | None:
        return None  # comment files have no authors

    def list_comments(self, *, project: str, number: int, marker: str) -> list[Comment]:
        folder = self._comments(number)
        paths = sorted(folder.glob("*.md"), key=_natural) if folder.is_dir() else []
        found = []
        for path in paths:
            try:
                body = path.read_text(encoding="utf-8")
            except OSError as err:
                raise InputError(f"cannot read comment: {err}", path=str(path)) from err
            if marker in body:
                found.append(Comment(path.name, str(path), body))
        return found

    def create_comment(self, *, project: str, number: int, body: str, key: str) -> Comment:
        path = self._file(number, key)
        _write_text(path, body)
        return Comment(path.name, str(path), body)

    def update_comment(self, *, project: str, number: int, comment: Comment, body: str) -> Comment:
        path = self._file(number, comment.id)
        _write_text(path, body)
        return Comment(path.name, str(path), body)

    def delete_comment(self, *, project: str, number: int, comment: Comment) -> None:
        self._file(number, comment.id).unlink(missing_ok=True)

    def minimize_comment(self, *, project: str, number: int, comment: Comment) -> bool:
        return False  # a file cannot be collapsed; the caller has already emptied it

    # -- deployments ---------------------------------------------------------------------
    def create_deployment(
        self, *, project: str, environment: str, sha: str, ref: str, description: str
    ) -> Deployment:
        folder = self.directory / "deployments"
        with self._locked():
            folder.mkdir(parents=True, exist_ok=True)
            number = 1 + max(
                (int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()), default=0
            )
            path = folder / f"{number}.json"
            record = {
                "id": number,
                "project": project,
                "environment": environment,
                "sha": sha,
                "ref": ref,
                "description": description,
                "statuses": [],
            }
            _write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")
        return Deployment(str(number), path.as_uri())

    def set_deployment_status(
        self, project: str, deployment: Deployment, status: DeploymentStatus
    ) -> None:
        path = self.directory / "deployments" / f"{int(deployment.id)}.json"
        with self._locked():
            record = json.loads(path.read_text(encoding="utf-8"))
            record["statuses"].append(dataclasses.asdict(status))
            _write_text(path, json.dumps(record, indent=2, sort_keys=True) + "\n")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.pulls.mkdir(parents=True, exist_ok=True)
        with open(self.pulls / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield

    def _paths(self) -> list[Path]:
        paths = [p for p in self.pulls.glob("*.json") if p.stem.isdigit()]
        return sorted(paths, key=lambda p: int(p.stem))

    def _write(self, path: Path, record: dict[str, Any]) -> None:
        fd, temp = tempfile.mkstemp(dir=self.pulls, prefix=".pull-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(record, out, indent=2, sort_keys=True)
                out.write("\n")
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise


def _natural(path: Path) -> list[tuple[int, str]]:
    """``config-2.md`` before ``config-10.md``."""
    return [(int(t), "") if t.isdigit() else (0, t) for t in re.split(r"(\d+)", path.name)]


def _write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".comment-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
