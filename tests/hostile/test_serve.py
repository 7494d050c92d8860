"""Hostile webhook deliveries, straight into the intake handler (in-process aiohttp).

Every body is authentic (signed with the secret, or carrying the GitLab token), so what is
judged is what happens past verification: malformed JSON, fields of the wrong type, huge
and deeply nested bodies, unknown events and actions. Each is answered with a status
code and a JSON verdict (never a 500), nothing is queued from it, and no traceback is
logged.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gitops_actions.serve import verify
from gitops_actions.serve.intake import Intake, Service, make_app
from gitops_actions.serve.store import SqliteStore
from gitops_actions.serve.telemetry import Log, Metrics

SECRET = b"hostile-webhook-secret"
SHA = "b" * 40
URL = "http://127.0.0.1:9/acme/config.git"


def pull(**changes: Any) -> dict[str, Any]:
    """A well-formed GitHub pull_request delivery, with ``changes`` at the top level."""
    doc: dict[str, Any] = {
        "action": "synchronize",
        "number": 7,
        "pull_request": {
            "number": 7,
            "head": {
                "sha": SHA,
                "ref": "f",
                "repo": {"full_name": "acme/config", "clone_url": URL},
            },
            "base": {"ref": "main", "sha": "c" * 40, "repo": {"full_name": "acme/config"}},
            "state": "open",
        },
        "repository": {"full_name": "acme/config", "clone_url": URL},
    }
    return doc | changes


def nested(depth: int) -> bytes:
    return b'{"action": "opened", "x": ' + b"[" * depth + b"]" * depth + b"}"


BAD_JSON = {
    "truncated": b'{"action": "opened", "number": ',
    "not json": b"<html>hello</html>",
    "a bare string": b'"pull_request"',
    "null": b"null",
    "a list": b"[1, 2, 3]",
    "a number": b"1e999999",
    "NaN": b'{"action": NaN}',
    "invalid utf-8": b'{"action": "\xff\xfe"}',
    "nul bytes": b'{"action": "opened\x00"}',
    "lone surrogate": b'{"action": "\\ud800"}',
    "nested 100000 deep": nested(100_000),
    "nested 1000 deep": nested(1_000),
    "empty": b"",
}
WRONG_TYPES = {
    "number is text": pull(number="7"),
    "number is a list": pull(number=[7]),
    "number is huge": pull(number=10**400),
    "number is negative": pull(number=-1),
    "number is a float": pull(number=7.5),
    "number is true": pull(number=True),
    "action is a number": pull(action=5),
    "action is an object": pull(action={"a": 1}),
    "pull_request is a list": pull(pull_request=[]),
    "pull_request is null": pull(pull_request=None),
    "head is text": pull(pull_request={**pull()["pull_request"], "head": "x"}),
    "head sha is a number": pull(
        pull_request={**pull()["pull_request"], "head": {"sha": 5, "ref": "f"}}
    ),
    "head sha is not hex": pull(
        pull_request={**pull()["pull_request"], "head": {"sha": "-->" * 20, "ref": "f"}}
    ),
    "repository is text": pull(repository="acme/config"),
    "full_name is a number": pull(repository={"full_name": 7}),
    "full_name is huge": pull(repository={"full_name": "a/" + "b" * 1_000_000}),
    "nothing at all": {},
}
GITHUB_EVENTS = {
    "unknown action": ("pull_request", pull(action="frobnicate")),
    "unknown event": ("deployment_review", pull()),
    "no event header": ("", pull()),
    "a huge event name": ("e" * 4_000, pull()),
    "comment with a list body": (
        "issue_comment",
        {"action": "created", "comment": {"body": ["/gitops"]}, "issue": {"number": 1}},
    ),
    "comment on no issue": ("issue_comment", {"action": "created", "comment": {"body": "x"}}),
}
GITLAB_BODIES = {
    "object_attributes is a list": {"object_kind": "merge_request", "object_attributes": []},
    "iid is text": {
        "object_kind": "merge_request",
        "project": {"path_with_namespace": "acme/config"},
        "object_attributes": {"iid": "x", "action": "update", "last_commit": {"id": SHA}},
    },
    "project is null": {"object_kind": "merge_request", "project": None},
    "unknown action": {
        "object_kind": "merge_request",
        "project": {"path_with_namespace": "acme/config"},
        "object_attributes": {"iid": 1, "action": "frobnicate", "last_commit": {"id": SHA}},
    },
    "note is a number": {"object_kind": "note", "object_attributes": {"note": 5}},
}


class Intaken:
    """One in-process intake with a SQLite store; what it logged, and what it queued."""

    def __init__(self, forge: str, state: Path) -> None:
        self.forge = forge
        self.stream = io.StringIO()
        self.store = SqliteStore(state / "state.db", "hostile")
        self.service = Service(
            intake=Intake(forge, SECRET, ("acme/*",), 100),
            store=self.store,
            metrics=Metrics(),
            log=Log(self.stream),
            wake=lambda: None,
            running=lambda: 0,
        )

    def post(self, body: bytes, event: str, content_type: str = "application/json") -> Any:
        headers = {"Content-Type": content_type, "X-GitHub-Delivery": "d-1"}
        if self.forge == "github":
            headers |= {"X-Hub-Signature-256": verify.github_signature(SECRET, body)}
            if event:
                headers["X-GitHub-Event"] = event
        else:
            headers |= {"X-Gitlab-Token": SECRET.decode(), "X-Gitlab-Event": event}

        async def send() -> tuple[int, str]:
            async with TestClient(TestServer(make_app(self.service))) as client:
                reply = await client.post("/webhook", data=body, headers=headers)
                return reply.status, await reply.text()

        status, text = asyncio.run(asyncio.wait_for(send(), timeout=30))
        return status, json.loads(text) if text.startswith("{") else text

    def judge(self, status: int, reply: Any, allowed: tuple[int, ...]) -> None:
        logged = self.stream.getvalue()
        assert status in allowed, (status, reply, logged[-2000:])
        assert isinstance(reply, dict) and "verdict" in reply, reply
        assert "Traceback" not in logged and '"level": "error"' not in logged, logged[-2000:]
        assert len(json.dumps(reply)) < 1000, "the reply quotes the body"
        assert self.store.depth() == 0, "a job was queued from a bad delivery"


@pytest.fixture
def github(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Intaken:
    caplog.set_level(logging.ERROR)
    return Intaken("github", tmp_path)


@pytest.fixture
def gitlab(tmp_path: Path) -> Intaken:
    return Intaken("gitlab", tmp_path)


@pytest.mark.parametrize("name", sorted(BAD_JSON))
def test_malformed_json_is_a_bad_payload(
    github: Intaken, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    status, reply = github.post(BAD_JSON[name], "pull_request")
    github.judge(status, reply, (400,))
    assert reply["verdict"] == "bad_payload"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-2000:]


@pytest.mark.parametrize("name", sorted(WRONG_TYPES))
def test_fields_of_the_wrong_type_are_a_bad_payload_or_ignored(
    github: Intaken, name: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps(WRONG_TYPES[name]).encode()
    status, reply = github.post(body, "pull_request")
    github.judge(status, reply, (202, 400, 403))
    assert reply["verdict"] in ("bad_payload", "ignored", "forbidden"), reply
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text[-2000:]


@pytest.mark.parametrize("name", sorted(GITHUB_EVENTS))
def test_unknown_events_and_actions_are_ignored(github: Intaken, name: str) -> None:
    event, doc = GITHUB_EVENTS[name]
    status, reply = github.post(json.dumps(doc).encode(), event)
    github.judge(status, reply, (202, 400))
    assert reply["verdict"] in ("ignored", "bad_payload"), reply


def test_a_form_encoded_delivery_with_bad_json(github: Intaken) -> None:
    for body in (b"payload=%7B", b"nothing=here", b"payload=%FF%FE", b"%%%"):
        status, reply = github.post(body, "pull_request", "application/x-www-form-urlencoded")
        github.judge(status, reply, (400,))


def test_a_huge_body_is_refused_unread_and_a_large_one_answered(github: Intaken) -> None:
    over = b'{"a": "' + b"x" * (verify.MAX_BODY + 10) + b'"}'
    status, reply = github.post(over, "pull_request")
    github.judge(status, reply, (413,))
    large = json.dumps(pull(filler="y" * 5_000_000)).encode()
    status, reply = github.post(large, "pull_request")
    assert status == 202 and reply["verdict"] == "queued"  # large but well formed


@pytest.mark.parametrize("name", sorted(GITLAB_BODIES))
def test_gitlab_bodies_of_the_wrong_shape(gitlab: Intaken, name: str) -> None:
    doc = GITLAB_BODIES[name]
    event = "Note Hook" if doc.get("object_kind") == "note" else "Merge Request Hook"
    status, reply = gitlab.post(json.dumps(doc).encode(), event)
    gitlab.judge(status, reply, (202, 400, 403))
