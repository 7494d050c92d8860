"""A loopback GitHub API: repositories, pull requests and issue comments over REST, and
the GraphQL ``minimizeComment`` mutation.

Shapes follow https://docs.github.com/en/rest and https://docs.github.com/en/graphql with
the fields PyGithub reads.
"""

from __future__ import annotations

import itertools
import re
import time
from typing import Any

from fakes import ApiError, FakeApi, Reply, Request

REPO = r"/repos/(?P<owner>[^/]+)/(?P<name>[^/]+)"
DOCS = "https://docs.github.com/rest"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _invalid(message: str) -> ApiError:
    errors = [{"resource": "PullRequest", "code": "custom", "message": message}]
    return ApiError(
        422, {"message": "Validation Failed", "errors": errors, "documentation_url": DOCS}
    )


class GitHubApi(FakeApi):
    """Accepts ``Authorization: token X`` or ``Bearer X`` for any of ``tokens``, all of
    them ``user``'s (an app's bot, as Actions' GITHUB_TOKEN is); ``add_user`` adds other
    accounts. Comments record who wrote them; only their author may edit or delete them."""

    def __init__(self, *tokens: str, user: str = "github-actions[bot]") -> None:
        super().__init__(tokens)
        self.user = {"login": user, "id": 1, "type": "Bot"}
        self.users: dict[str, dict[str, Any]] = {}  # token -> user, beyond ``user``
        self.repos: dict[str, dict[str, Any]] = {}
        self.pulls: dict[str, dict[int, dict[str, Any]]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.minimized: dict[int, str] = {}  # comment id -> classifier
        self.statuses: list[dict[str, Any]] = []  # commit statuses, oldest first
        self.deployments: dict[int, dict[str, Any]] = {}  # each with its "statuses"
        self._ids = itertools.count(1001)
        number, comment = r"/(?P<number>\d+)", r"/issues/comments/(?P<comment_id>\d+)"
        self.route("GET", REPO, self._get_repo)
        self.route("GET", REPO + "/pulls", self._list_pulls)
        self.route("POST", REPO + "/pulls", self._create_pull)
        self.route("GET", REPO + "/pulls" + number, self._get_pull)
        self.route("PATCH", REPO + "/pulls" + number, self._edit_pull)
        self.route("GET", REPO + "/issues" + number + "/comments", self._list_comments)
        self.route("POST", REPO + "/issues" + number + "/comments", self._create_comment)
        self.route("GET", REPO + comment, self._get_comment)
        self.route("PATCH", REPO + comment, self._edit_comment)
        self.route("DELETE", REPO + comment, self._delete_comment)
        self.route("GET", REPO + r"/commits/(?P<sha>[0-9a-f]{7,40})", self._get_commit)
        self.route("POST", REPO + r"/statuses/(?P<sha>[0-9a-f]{40})", self._create_status)
        self.route("POST", "/graphql", self._graphql)
        deployment = REPO + r"/deployments/(?P<deployment_id>\d+)"
        self.route("POST", REPO + "/deployments", self._create_deployment)
        self.route("GET", deployment, self._get_deployment)
        self.route("POST", deployment + "/statuses", self._create_deployment_status)
        self.route("GET", "/user", self._get_user)

    def token_of(self, request: Request) -> str | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token if scheme.lower() in ("token", "bearer") else None

    def unauthorized(self) -> Reply:
        return Reply(401, {"message": "Bad credentials", "documentation_url": DOCS})

    def rate_limit(self, status: int = 403, count: int = 1, retry_after: int = 1) -> None:
        """Answer the next ``count`` requests as GitHub does when the rate limit is spent."""
        headers = {
            "Retry-After": str(retry_after),
            "X-RateLimit-Limit": "5000",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(int(time.time()) + retry_after),
        }
        body = {"message": "API rate limit exceeded for user ID 1.", "documentation_url": DOCS}
        self.fail_next(status, count, headers=headers, body=body)

    # -- for tests -----------------------------------------------------------------------
    def add_user(self, token: str, login: str, kind: str = "User") -> dict[str, Any]:
        """Another account, authenticating with ``token``; its user object."""
        with self.lock:
            user = {"login": login, "id": 2 + len(self.users), "type": kind}
            self.users[token] = user
            self.tokens.add(token)
            return user

    def user_of(self, request: Request) -> dict[str, Any]:
        """The account the request's token belongs to."""
        return self.users.get(self.token_of(request) or "", self.user)

    def add_repo(
        self, full_name: str, default_branch: str = "main", clone_url: str | None = None
    ) -> None:
        """A repository; ``clone_url`` is where git finds it (a real remote, for serve)."""
        owner, name = full_name.split("/")
        with self.lock:
            repo = {"id": next(self._ids), "owner": owner, "name": name, "clone_url": clone_url}
            self.repos[full_name] = repo | {"branch": default_branch}
            self.pulls[full_name] = {}

    def pulls_in(self, full_name: str, state: str = "all") -> list[dict[str, Any]]:
        with self.lock:
            pulls = self.pulls[full_name].values()
            return [self._pull_json(full_name, p) for p in pulls if state in ("all", p["state"])]

    def add_pull(self, full_name: str, head: str, base: str = "main", title: str = "t") -> int:
        """An open pull request from ``head``, as if someone had opened it; its number."""
        with self.lock:
            number = max(self.pulls[full_name], default=0) + 1
            self.pulls[full_name][number] = {
                "id": next(self._ids),
                "number": number,
                "title": title,
                "body": "",
                "state": "open",
                "head": head,
                "head_owner": full_name.split("/")[0],
                "base": base,
                "created_at": _now(),
                "updated_at": _now(),
            }
            return number

    def set_head(self, full_name: str, number: int, sha: str) -> None:
        with self.lock:
            self.pulls[full_name][number]["head_sha"] = sha

    def close_pull(self, full_name: str, number: int) -> None:
        with self.lock:
            self.pulls[full_name][number]["state"] = "closed"

    def add_comment(
        self, full_name: str, number: int, body: str, user: dict[str, Any] | None = None
    ) -> int:
        """A comment as if ``user`` (default: the token's own) had posted it; its id."""
        with self.lock:
            cid = next(self._ids)
            self.comments[cid] = {
                "id": cid,
                "repo": full_name,
                "issue": number,
                "body": body,
                "user": user or self.user,
                "created_at": _now(),
                "updated_at": _now(),
            }
            return cid

    def comments_on(self, full_name: str, number: int) -> list[dict[str, Any]]:
        with self.lock:
            found = [
                c for c in self.comments.values() if (c["repo"], c["issue"]) == (full_name, number)
            ]
            return [self._comment_json(c) for c in found]

    # -- rendering -----------------------------------------------------------------------
    def _repo(self, owner: str, name: str) -> str:
        if f"{owner}/{name}" not in self.repos:
            raise ApiError(404, {"message": "Not Found", "documentation_url": DOCS})
        return f"{owner}/{name}"

    def _repo_json(self, full: str) -> dict[str, Any]:
        repo = self.repos[full]
        return {
            "id": repo["id"],
            "name": repo["name"],
            "full_name": full,
            "owner": {"login": repo["owner"], "type": "Organization"},
            "private": True,
            "default_branch": repo["branch"],
            "url": f"{self.url}/repos/{full}",
            "html_url": f"{self.url}/{full}",
            "clone_url": repo["clone_url"] or f"{self.url}/{full}.git",
        }

    def _pull_json(self, full: str, pull: dict[str, Any]) -> dict[str, Any]:
        number, repo = pull["number"], self._repo_json(full)
        head = {"ref": pull["head"], "label": f"{pull['head_owner']}:{pull['head']}", "repo": repo}
        head["sha"] = pull.get("head_sha") or f"{pull['id']:040x}"
        base = {"ref": pull["base"], "label": f"{repo['owner']['login']}:{pull['base']}"}
        return {
            **{k: pull[k] for k in ("id", "number", "title", "body", "state")},
            **{k: pull[k] for k in ("created_at", "updated_at")},
            "url": f"{self.url}/repos/{full}/pulls/{number}",
            "html_url": f"{self.url}/{full}/pull/{number}",
            "issue_url": f"{self.url}/repos/{full}/issues/{number}",
            "comments_url": f"{self.url}/repos/{full}/issues/{number}/comments",
            "head": head,
            "base": base | {"repo": repo},
            "user": self.user,
            "draft": False,
            "merged": False,
        }

    def _comment_json(self, comment: dict[str, Any]) -> dict[str, Any]:
        full, cid = comment["repo"], comment["id"]
        return {
            **{k: comment[k] for k in ("id", "body", "created_at", "updated_at")},
            "node_id": f"IC_{cid}",
            "url": f"{self.url}/repos/{full}/issues/comments/{cid}",
            "html_url": f"{self.url}/{full}/pull/{comment['issue']}#issuecomment-{cid}",
            "issue_url": f"{self.url}/repos/{full}/issues/{comment['issue']}",
            "user": comment["user"],
        }

    def _pull(self, owner: str, name: str, number: str) -> tuple[str, dict[str, Any]]:
        full = self._repo(owner, name)
        pull = self.pulls[full].get(int(number))
        if pull is None:
            raise ApiError(404, {"message": "Not Found", "documentation_url": DOCS})
        return full, pull

    # -- pull requests -------------------------------------------------------------------
    def _get_repo(self, request: Request, owner: str, name: str) -> Reply:
        return Reply(200, self._repo_json(self._repo(owner, name)))

    def _list_pulls(self, request: Request, owner: str, name: str) -> Reply:
        full, q = self._repo(owner, name), request.query
        found = [
            self._pull_json(full, p)
            for p in sorted(self.pulls[full].values(), key=lambda p: -p["number"])
            if q.get("state", "open") in ("all", p["state"])
            and q.get("head", f"{p['head_owner']}:{p['head']}") == f"{p['head_owner']}:{p['head']}"
            and q.get("base", p["base"]) == p["base"]
        ]
        if q.get("direction") == "asc":
            found.reverse()
        return self.paginate(request, found, per_page=30)

    def _create_pull(self, request: Request, owner: str, name: str) -> Reply:
        full, data = self._repo(owner, name), request.body or {}
        for key in ("title", "head", "base"):
            if not data.get(key):
                raise _invalid(f"{key} is missing")
        head_owner, _, head = data["head"].rpartition(":")
        head_owner = head_owner or owner
        if head == data["base"] and head_owner == owner:
            raise _invalid(f"No commits between {data['base']} and {head}")
        wanted = ("open", head_owner, head, data["base"])
        for pull in self.pulls[full].values():
            if (pull["state"], pull["head_owner"], pull["head"], pull["base"]) == wanted:
                raise _invalid(f"A pull request already exists for {head_owner}:{head}.")
        number = max(self.pulls[full], default=0) + 1
        pull = {
            "id": next(self._ids),
            "number": number,
            "title": data["title"],
            "body": data.get("body"),
            "state": "open",
            "head": head,
            "head_owner": head_owner,
            "base": data["base"],
            "created_at": _now(),
            "updated_at": _now(),
        }
        self.pulls[full][number] = pull
        return Reply(201, self._pull_json(full, pull))

    def _get_pull(self, request: Request, owner: str, name: str, number: str) -> Reply:
        return Reply(200, self._pull_json(*self._pull(owner, name, number)))

    def _edit_pull(self, request: Request, owner: str, name: str, number: str) -> Reply:
        full, pull = self._pull(owner, name, number)
        data = request.body or {}
        pull.update({k: data[k] for k in ("title", "body", "state", "base") if k in data})
        pull["updated_at"] = _now()
        return Reply(200, self._pull_json(full, pull))

    # -- issue comments ------------------------------------------------------------------
    def _list_comments(self, request: Request, owner: str, name: str, number: str) -> Reply:
        full, pull = self._pull(owner, name, number)
        found = [
            c for c in self.comments.values() if (c["repo"], c["issue"]) == (full, pull["number"])
        ]
        return self.paginate(request, [self._comment_json(c) for c in found], per_page=30)

    def _create_comment(self, request: Request, owner: str, name: str, number: str) -> Reply:
        full, pull = self._pull(owner, name, number)
        body = (request.body or {}).get("body")
        if not body:
            raise _invalid("body is missing")
        cid = next(self._ids)
        comment = {"id": cid, "repo": full, "issue": pull["number"], "body": body}
        comment["user"] = self.user_of(request)
        self.comments[cid] = comment | {"created_at": _now(), "updated_at": _now()}
        return Reply(201, self._comment_json(self.comments[cid]))

    def _comment(self, owner: str, name: str, comment_id: str) -> dict[str, Any]:
        comment = self.comments.get(int(comment_id))
        if comment is None or comment["repo"] != self._repo(owner, name):
            raise ApiError(404, {"message": "Not Found", "documentation_url": DOCS})
        return comment

    def _get_comment(self, request: Request, owner: str, name: str, comment_id: str) -> Reply:
        return Reply(200, self._comment_json(self._comment(owner, name, comment_id)))

    def _own_comment(self, request: Request, owner: str, name: str, cid: str) -> dict[str, Any]:
        """A comment the request's account may change: its own (no admin accounts here)."""
        comment = self._comment(owner, name, cid)
        if comment["user"]["login"] != self.user_of(request)["login"]:
            raise ApiError(403, {"message": "Must have admin rights to Repository."})
        return comment

    def _edit_comment(self, request: Request, owner: str, name: str, comment_id: str) -> Reply:
        comment = self._own_comment(request, owner, name, comment_id)
        comment.update(body=(request.body or {}).get("body", comment["body"]), updated_at=_now())
        return Reply(200, self._comment_json(comment))

    def _delete_comment(self, request: Request, owner: str, name: str, comment_id: str) -> Reply:
        del self.comments[self._own_comment(request, owner, name, comment_id)["id"]]
        return Reply(204)

    # -- commit statuses -----------------------------------------------------------------
    def _get_commit(self, request: Request, owner: str, name: str, sha: str) -> Reply:
        full = self._repo(owner, name)
        return Reply(200, {"sha": sha, "url": f"{self.url}/repos/{full}/commits/{sha}"})

    def _create_status(self, request: Request, owner: str, name: str, sha: str) -> Reply:
        full, data = self._repo(owner, name), request.body or {}
        if data.get("state") not in ("error", "failure", "pending", "success"):
            raise ApiError(422, {"message": "Validation Failed", "documentation_url": DOCS})
        status = {
            "id": next(self._ids),
            "repo": full,
            "sha": sha,
            "state": data["state"],
            "context": data.get("context") or "default",
            "description": data.get("description"),
            "target_url": data.get("target_url"),
            "created_at": _now(),
        }
        self.statuses.append(status)
        return Reply(201, {k: v for k, v in status.items() if k not in ("repo", "sha")})

    # -- deployments ---------------------------------------------------------------------
    def _deployment_json(self, full: str, found: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "sha", "ref", "task", "environment", "description", "payload")
        url = f"{self.url}/repos/{full}/deployments/{found['id']}"
        return {k: found[k] for k in keys} | {"url": url, "created_at": found["created_at"]}

    def _create_deployment(self, request: Request, owner: str, name: str) -> Reply:
        full, data = self._repo(owner, name), request.body or {}
        if not data.get("ref"):
            raise ApiError(422, {"message": "Validation Failed", "documentation_url": DOCS})
        if data.get("auto_merge", True) or data.get("required_contexts") != []:
            # GitHub would merge the default branch in, or wait for commit statuses first
            raise ApiError(409, {"message": "Conflict merging main into the ref"})
        found = {
            "id": next(self._ids),
            "repo": full,
            "sha": data["ref"],
            "ref": data["ref"],
            "task": data.get("task", "deploy"),
            "environment": data.get("environment", "production"),
            "description": data.get("description"),
            "payload": data.get("payload", {}),
            "created_at": _now(),
            "request": data,
            "statuses": [],
        }
        self.deployments[found["id"]] = found
        return Reply(201, self._deployment_json(full, found))

    def _find_deployment(self, owner: str, name: str, deployment_id: str) -> dict[str, Any]:
        full = self._repo(owner, name)
        found = self.deployments.get(int(deployment_id))
        if found is None or found["repo"] != full:
            raise ApiError(404, {"message": "Not Found", "documentation_url": DOCS})
        return found

    def _get_deployment(self, request: Request, owner: str, name: str, deployment_id: str) -> Reply:
        found = self._find_deployment(owner, name, deployment_id)
        return Reply(200, self._deployment_json(found["repo"], found))

    def _create_deployment_status(
        self, request: Request, owner: str, name: str, deployment_id: str
    ) -> Reply:
        found, data = self._find_deployment(owner, name, deployment_id), request.body or {}
        states = ("error", "failure", "inactive", "in_progress", "queued", "pending", "success")
        if data.get("state") not in states:
            raise ApiError(422, {"message": "Validation Failed", "documentation_url": DOCS})
        status = {"id": next(self._ids), "created_at": _now()} | data
        found["statuses"].append(status)
        return Reply(201, status)

    # -- GraphQL -------------------------------------------------------------------------
    def _get_user(self, request: Request) -> Reply:
        user = self.user_of(request)
        if user["type"] == "Bot":  # an app installation token
            message = "Resource not accessible by integration"
            return Reply(403, {"message": message, "documentation_url": DOCS})
        return Reply(200, user)

    def _graphql(self, request: Request) -> Reply:
        """``viewer { login }`` and ``minimizeComment`` as PyGithub sends them; anything else
        is a GraphQL error."""
        data = request.body or {}
        query, variables = str(data.get("query", "")), data.get("variables") or {}
        if re.fullmatch(r"\s*(query\s*)?\{\s*viewer\s*\{\s*login\s*\}\s*\}\s*", query):
            return Reply(200, {"data": {"viewer": {"login": self.user_of(request)["login"]}}})
        if not re.search(r"\bminimizeComment\s*\(", query):
            return Reply(200, {"errors": [{"message": "only minimizeComment is served here"}]})
        given = variables.get("input") or {}
        node, classifier = str(given.get("subjectId", "")), given.get("classifier")
        found = self.comments.get(int(node[3:])) if re.fullmatch(r"IC_\d+", node) else None
        if found is None:
            error = {"type": "NOT_FOUND", "message": f"Could not resolve to a node with id {node}"}
            return Reply(200, {"data": {"minimizeComment": None}, "errors": [error]})
        if classifier not in ("SPAM", "ABUSE", "OFF_TOPIC", "OUTDATED", "DUPLICATE", "RESOLVED"):
            return Reply(200, {"errors": [{"message": f"bad classifier {classifier!r}"}]})
        self.minimized[found["id"]] = classifier
        result = {"minimizedComment": {"isMinimized": True, "minimizedReason": classifier}}
        return Reply(200, {"data": {"minimizeComment": result}})
