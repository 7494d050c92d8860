"""A forge made of files, for demos and tests: one JSON file per pull request.

Each pull request is ``<directory>/pulls/<number>.json`` holding ``number``, ``url``,
``project``, ``head``, ``base``, ``title``, ``body`` and ``state``. Files are written whole and
atomically, so a reader never sees half a pull request; writers take a lock on the
directory, so two of them never share a number or open the same pull request twice.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gitops_actions.errors import InputError
from gitops_actions.forge import PullRequest

OPEN = "open"


class LocalForge:
    name = "local"

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).resolve()
        self.pulls = self.directory / "pulls"

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
