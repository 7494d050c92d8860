from __future__ import annotations

import base64
import io

from gitops_actions.secrets import REDACTOR, RedactingStream, Redactor


def test_redacts_value_lines_and_base64() -> None:
    r = Redactor()
    r.learn("tok-123456\nline-two")
    encoded = base64.b64encode(b"tok-123456\nline-two").decode()
    assert r.redact(f"a tok-123456 b line-two c {encoded}") == "a *** b *** c ***"


def test_short_values_are_not_secrets() -> None:
    r = Redactor()
    r.learn("abc")
    assert r.redact("abc") == "abc"


def test_learns_from_environment() -> None:
    r = Redactor()
    r.learn_env({"GITHUB_TOKEN": "ghs_aaaa", "GITOPS_GIT_TOKEN": "gt-bbbb", "GITOPS_IMAGE": "img1"})
    assert r.redact("ghs_aaaa gt-bbbb img1") == "*** *** img1"


def test_stream_catches_a_secret_split_across_writes() -> None:
    REDACTOR.learn("split-secret")
    inner = io.StringIO()
    stream = RedactingStream(inner)
    stream.write("value: split-")
    stream.write("secret\ntail")
    stream.flush()
    assert inner.getvalue() == "value: ***\ntail"
