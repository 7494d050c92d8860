"""A loopback GitLab REST API (v4): projects, merge requests and merge request notes.

Shapes follow https://docs.gitlab.com/ee/api/ with the fields python-gitlab reads.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

from fakes import ApiError, FakeApi, Reply, Request

PROJECT = r"/projects/(?P<project>[^/]+)"
MR = PROJECT + r"/merge_requests/(?P<iid>\d+)"
NOT_FOUND = {"message": "404 Not found"}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class GitLabApi(FakeApi):
    """Accepts ``PRIVATE-TOKEN`` (or OAuth ``Bearer``) for ``tokens``, ``JOB-TOKEN`` for
    ``job_tokens``; all are ``user``'s, ``add_user`` adds other accounts. Notes record
    their author; only the author may edit or delete one."""

    prefix = "/api/v4"

    def __init__(self, *tokens: str, job_tokens: Iterable[str] = (), user: str = "ci-bot") -> None:
        self.job_tokens = set(job_tokens)
        super().__init__([*tokens, *self.job_tokens])
        self.user = {"id": 1, "username": user, "name": user, "state": "active"}
        self.users: dict[str, dict[str, Any]] = {}  # token -> user, beyond ``user``
        self.projects: dict[int, dict[str, Any]] = {}
        self.merge_requests: dict[int, dict[int, dict[str, Any]]] = {}
        self.notes: dict[int, dict[str, Any]] = {}
        self.statuses: list[dict[str, Any]] = []  # commit statuses, oldest first
        self.deployments: dict[int, dict[str, Any]] = {}  # each with its "history" of statuses
        self._ids = itertools.count(101)
        self.route("GET", "/user", self._get_user)
        self.route("GET", PROJECT, self._get_project)
        self.route("GET", PROJECT + "/merge_requests", self._list_mrs)
        self.route("POST", PROJECT + "/merge_requests", self._create_mr)
        self.route("GET", MR, self._get_mr)
        self.route("PUT", MR, self._update_mr)
        self.route("GET", MR + "/notes", self._list_notes)
        self.route("POST", MR + "/notes", self._create_note)
        self.route("GET", MR + r"/notes/(?P<note_id>\d+)", self._get_note)
        self.route("PUT", MR + r"/notes/(?P<note_id>\d+)", self._update_note)
        self.route("DELETE", MR + r"/notes/(?P<note_id>\d+)", self._delete_note)
        self.route("POST", PROJECT + r"/statuses/(?P<sha>[0-9a-f]{40})", self._create_status)
        self.route("POST", PROJECT + "/deployments", self._create_deployment)
        deployment = PROJECT + r"/deployments/(?P<deployment_id>\d+)"
        self.route("GET", deployment, self._get_deployment)
        self.route("PUT", deployment, self._update_deployment)

    def token_of(self, request: Request) -> str | None:
        headers = request.headers
        if headers.get("job-token") in self.job_tokens:
            return headers["job-token"]
        scheme, _, bearer = headers.get("authorization", "").partition(" ")
        token = headers.get("private-token") or (bearer if scheme.lower() == "bearer" else None)
        return token if token not in self.job_tokens else None

    def rate_limit(self, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``count`` requests as GitLab does when throttling."""
        headers = {
            "Retry-After": str(retry_after),
            "RateLimit-Limit": "600",
            "RateLimit-Remaining": "0",
            "RateLimit-Reset": str(int(time.time()) + retry_after),
        }
        self.fail_next(429, count, headers=headers, body={"message": "Retry later"})

    # -- for tests -----------------------------------------------------------------------
    def add_user(self, token: str, username: str) -> dict[str, Any]:
        """Another account, authenticating with ``token``; its user object."""
        with self.lock:
            user = {"id": 2 + len(self.users), "username": username, "name": username}
            self.users[token] = user | {"state": "active"}
            self.tokens.add(token)
            return self.users[token]

    def user_of(self, request: Request) -> dict[str, Any]:
        return self.users.get(self.token_of(request) or "", self.user)

    def add_project(self, path: str, default_branch: str = "main") -> int:
        with self.lock:
            pid = next(self._ids)
            self.projects[pid] = {"id": pid, "path": path, "branch": default_branch}
            self.merge_requests[pid] = {}
            return pid

    def mrs_in(self, path: str, state: str = "all") -> list[dict[str, Any]]:
        with self.lock:
            project = self._project(path)
            mrs = self.merge_requests[project["id"]].values()
            return [self._mr_json(project, m) for m in mrs if state in ("all", m["state"])]

    def close_mr(self, path: str, iid: int) -> None:
        with self.lock:
            self.merge_requests[self._project(path)["id"]][iid]["state"] = "closed"

    def add_mr(self, path: str, source: str, target: str = "main", title: str = "t") -> int:
        """An open merge request from ``source``, as if someone had opened it; its iid."""
        with self.lock:
            mrs = self.merge_requests[self._project(path)["id"]]
            iid = max(mrs, default=0) + 1
            mrs[iid] = {
                "id": next(self._ids),
                "iid": iid,
                "title": title,
                "description": "",
                "state": "opened",
                "source_branch": source,
                "target_branch": target,
                "created_at": _now(),
                "updated_at": _now(),
            }
            return iid

    def add_note(
        self,
        path: str,
        iid: int,
        body: str,
        *,
        system: bool = False,
        author: dict[str, Any] | None = None,
    ) -> int:
        """A note as if ``author`` (default: the token's own user) or GitLab itself had
        posted it, without a request; its id."""
        with self.lock:
            project = self._project(path)
            mr = self.merge_requests[project["id"]][iid]
            note = {
                "id": next(self._ids),
                "body": body,
                "author": author or self.user,
                "system": system,
                "project_id": project["id"],
                "noteable_id": mr["id"],
                "noteable_iid": iid,
                "noteable_type": "MergeRequest",
                "created_at": _now(),
                "updated_at": _now(),
            }
            self.notes[note["id"]] = note
            return int(note["id"])

    def notes_on(self, path: str, iid: int) -> list[dict[str, Any]]:
        with self.lock:
            pid = self._project(path)["id"]
            return [
                n for n in self.notes.values() if (n["project_id"], n["noteable_iid"]) == (pid, iid)
            ]

    # -- rendering -----------------------------------------------------------------------
    def _project(self, ref: str) -> dict[str, Any]:
        ref = unquote(ref)
        for project in self.projects.values():
            if ref in (str(project["id"]), project["path"]):
                return project
        raise ApiError(404, {"message": "404 Project Not Found"})

    def _project_json(self, project: dict[str, Any]) -> dict[str, Any]:
        path = project["path"]
        return {
            "id": project["id"],
            "name": path.rpartition("/")[2],
            "path": path.rpartition("/")[2],
            "path_with_namespace": path,
            "namespace": {"full_path": path.rpartition("/")[0]},
            "default_branch": project["branch"],
            "web_url": f"{self.url}/{path}",
        }

    def _mr_json(self, project: dict[str, Any], mr: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "iid", "title", "description", "state", "source_branch", "target_branch")
        return {
            **{k: mr[k] for k in (*keys, "created_at", "updated_at")},
            "sha": mr.get("sha") or f"{mr['id']:040x}",
            "project_id": project["id"],
            "source_project_id": project["id"],
            "target_project_id": project["id"],
            "web_url": f"{self.url}/{project['path']}/-/merge_requests/{mr['iid']}",
            "references": {"short": f"!{mr['iid']}", "full": f"{project['path']}!{mr['iid']}"},
            "author": self.user,
            "draft": False,
            "merge_status": "can_be_merged",
        }

    def _mr(self, project: str, iid: str) -> tuple[dict[str, Any], dict[str, Any]]:
        found = self._project(project)
        mr = self.merge_requests[found["id"]].get(int(iid))
        if mr is None:
            raise ApiError(404, NOT_FOUND)
        return found, mr

    # -- merge requests ------------------------------------------------------------------
    def _get_project(self, request: Request, project: str) -> Reply:
        return Reply(200, self._project_json(self._project(project)))

    def _list_mrs(self, request: Request, project: str) -> Reply:
        found, q = self._project(project), request.query
        mrs = sorted(self.merge_requests[found["id"]].values(), key=lambda m: -m["iid"])
        mrs = [
            m
            for m in mrs
            if q.get("state", "all") in ("all", m["state"])
            and all(q.get(k, m[k]) == m[k] for k in ("source_branch", "target_branch"))
        ]
        if q.get("sort") == "asc":
            mrs.reverse()
        items = [self._mr_json(found, m) for m in mrs]
        return self.paginate(request, items, per_page=20, counts=True)

    def _create_mr(self, request: Request, project: str) -> Reply:
        found, data = self._project(project), request.body or {}
        for key in ("source_branch", "target_branch", "title"):
            if not data.get(key):
                raise ApiError(400, {"error": f"{key} is missing"})
        source, target = data["source_branch"], data["target_branch"]
        if source == target:
            raise ApiError(
                422, {"message": ["You can't use same project/branch for source and target"]}
            )
        mrs = self.merge_requests[found["id"]]
        wanted = ("opened", source, target)
        for mr in mrs.values():
            if (mr["state"], mr["source_branch"], mr["target_branch"]) == wanted:
                exists = "Another open merge request already exists for this source branch"
                raise ApiError(409, {"message": [f"{exists}: !{mr['iid']}"]})
        iid = max(mrs, default=0) + 1
        mrs[iid] = {
            "id": next(self._ids),
            "iid": iid,
            "title": data["title"],
            "description": data.get("description") or "",
            "state": "opened",
            "source_branch": source,
            "target_branch": target,
            "created_at": _now(),
            "updated_at": _now(),
        }
        return Reply(201, self._mr_json(found, mrs[iid]))

    def _get_mr(self, request: Request, project: str, iid: str) -> Reply:
        return Reply(200, self._mr_json(*self._mr(project, iid)))

    def _update_mr(self, request: Request, project: str, iid: str) -> Reply:
        found, mr = self._mr(project, iid)
        data = request.body or {}
        mr.update({k: data[k] for k in ("title", "description", "target_branch") if k in data})
        states = {"close": "closed", "reopen": "opened"}
        mr.update(state=states.get(data.get("state_event", ""), mr["state"]), updated_at=_now())
        return Reply(200, self._mr_json(found, mr))

    # -- notes ---------------------------------------------------------------------------
    def _list_notes(self, request: Request, project: str, iid: str) -> Reply:
        found, mr = self._mr(project, iid)
        notes = [
            n
            for n in sorted(self.notes.values(), key=lambda n: -n["id"])
            if (n["project_id"], n["noteable_iid"]) == (found["id"], mr["iid"])
        ]
        if request.query.get("sort") == "asc":
            notes.reverse()
        return self.paginate(request, notes, per_page=20, counts=True)

    def _create_note(self, request: Request, project: str, iid: str) -> Reply:
        found, mr = self._mr(project, iid)
        body = (request.body or {}).get("body")
        if not body:
            raise ApiError(400, {"error": "body is missing"})
        note = {
            "id": next(self._ids),
            "body": body,
            "author": self.user_of(request),
            "system": False,
            "project_id": found["id"],
            "noteable_id": mr["id"],
            "noteable_iid": mr["iid"],
            "noteable_type": "MergeRequest",
            "created_at": _now(),
            "updated_at": _now(),
        }
        self.notes[note["id"]] = note
        return Reply(201, note)

    def _note(self, project: str, iid: str, note_id: str) -> dict[str, Any]:
        found, mr = self._mr(project, iid)
        note = self.notes.get(int(note_id))
        if note is None or (note["project_id"], note["noteable_iid"]) != (found["id"], mr["iid"]):
            raise ApiError(404, NOT_FOUND)
        return note

    def _get_note(self, request: Request, project: str, iid: str, note_id: str) -> Reply:
        return Reply(200, self._note(project, iid, note_id))

    def _own_note(self, request: Request, project: str, iid: str, note_id: str) -> dict[str, Any]:
        """A note the request's account may change: its own (no admin accounts here)."""
        note = self._note(project, iid, note_id)
        if note["author"]["username"] != self.user_of(request)["username"]:
            raise ApiError(403, {"message": "403 Forbidden"})
        return note

    def _get_user(self, request: Request) -> Reply:
        if request.headers.get("job-token"):
            raise ApiError(401, {"message": "401 Unauthorized"})
        return Reply(200, self.user_of(request))

    def _update_note(self, request: Request, project: str, iid: str, note_id: str) -> Reply:
        note = self._own_note(request, project, iid, note_id)
        note.update(body=(request.body or {}).get("body", note["body"]), updated_at=_now())
        return Reply(200, note)

    def _delete_note(self, request: Request, project: str, iid: str, note_id: str) -> Reply:
        del self.notes[self._own_note(request, project, iid, note_id)["id"]]
        return Reply(204)

    # -- commit statuses -----------------------------------------------------------------
    def _create_status(self, request: Request, project: str, sha: str) -> Reply:
        found, data = self._project(project), request.body or {}
        if data.get("state") not in ("pending", "running", "success", "failed", "canceled"):
            raise ApiError(400, {"message": "state does not have a valid value"})
        status = {
            "id": next(self._ids),
            "sha": sha,
            "status": data["state"],
            "name": data.get("name") or data.get("context") or "default",
            "description": data.get("description"),
            "target_url": data.get("target_url"),
            "created_at": _now(),
        }
        self.statuses.append(status | {"project": found["path"]})
        return Reply(201, status)

    # -- deployments ---------------------------------------------------------------------
    def _deployment_json(self, found: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "iid", "ref", "sha", "status", "created_at", "updated_at")
        return {k: found[k] for k in keys} | {
            "environment": {"name": found["environment"]},
            "user": self.user,
        }

    def _create_deployment(self, request: Request, project: str) -> Reply:
        found, data = self._project(project), request.body or {}
        missing = [k for k in ("environment", "sha", "ref", "tag") if k not in data]
        if missing:
            raise ApiError(400, {"error": f"{missing[0]} is missing"})
        if data.get("status") not in ("running", "success", "failed", "canceled"):
            raise ApiError(400, {"error": "status does not have a valid value"})
        deployment = {
            "id": next(self._ids),
            "iid": len(self.deployments) + 1,
            "project": found["id"],
            "environment": data["environment"],
            "ref": data["ref"],
            "sha": data["sha"],
            "status": data["status"],
            "created_at": _now(),
            "updated_at": _now(),
            "history": [data["status"]],
        }
        self.deployments[deployment["id"]] = deployment
        return Reply(201, self._deployment_json(deployment))

    def _find_deployment(self, project: str, deployment_id: str) -> dict[str, Any]:
        found = self._project(project)
        deployment = self.deployments.get(int(deployment_id))
        if deployment is None or deployment["project"] != found["id"]:
            raise ApiError(404, {"message": "404 Deployment Not Found"})
        return deployment

    def _get_deployment(self, request: Request, project: str, deployment_id: str) -> Reply:
        return Reply(200, self._deployment_json(self._find_deployment(project, deployment_id)))

    def _update_deployment(self, request: Request, project: str, deployment_id: str) -> Reply:
        deployment, data = self._find_deployment(project, deployment_id), request.body or {}
        if data.get("status") not in ("running", "success", "failed", "canceled"):
            raise ApiError(400, {"error": "status does not have a valid value"})
        deployment["status"] = data["status"]
        deployment["updated_at"] = _now()
        deployment["history"].append(data["status"])
        return Reply(200, self._deployment_json(deployment))
