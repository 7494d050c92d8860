from __future__ import annotations

import base64
import io

import pytest

from gitops_actions.secrets import REDACTOR, RedactingStream, Redactor, secret_values


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


def test_base64_inside_a_longer_base64_text_is_hidden() -> None:
    r = Redactor()
    r.learn("tok-1234567890")
    for before in (b"", b"u", b"us", b"user:"):
        for after in (b"", b"@", b"@h", b"@host"):
            encoded = base64.b64encode(before + b"tok-1234567890" + after).decode()
            assert "***" in r.redact(encoded), (before, after)


def test_each_line_in_base64_json_and_url_forms_is_hidden() -> None:
    r = Redactor()
    r.learn('first "line" é\nsecond/line')
    shown = " ".join(
        [
            base64.b64encode(b"second/line").decode(),
            '"first \\"line\\" \\u00e9"',
            "second%2Fline",
        ]
    )
    assert "line" not in r.redact(shown).replace("***", "")


def test_manifest_values_are_not_announced_and_short_ones_not_learned() -> None:
    r = Redactor()
    heard: list[str] = []
    r.on_learn(heard.append)
    secret = {"kind": "Secret", "stringData": {"a": "true", "b": "long-enough-value"}}
    r.learn_resources([secret])
    assert heard == []
    assert r.redact("true long-enough-value") == "true ***"


ENCODED = base64.b64encode(b"decoded-val").decode()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"stringData": ["list-value-1", {"k": "nested-2"}]}, {"list-value-1", "nested-2"}),
        ({"stringData": "scalar-value"}, {"scalar-value"}),
        ({"data": {"k": ENCODED}}, {ENCODED, "decoded-val"}),
        ({"data": [[[{"deep": 12345678}]]]}, {"12345678"}),
    ],
)
def test_secret_values_whatever_the_shape(payload: dict[str, object], expected: set[str]) -> None:
    found = set(secret_values({"kind": "Secret", **payload}))
    assert expected <= found
    assert set(secret_values({"kind": "ConfigMap", **payload})) == set()


def test_a_longer_secret_wins_over_its_prefix_and_thousands_stay_cheap() -> None:
    r = Redactor()
    r.learn_values(["prefix-12345", "prefix-12345-longer", *(f"many-{i:06d}" for i in range(3000))])
    assert r.redact("a prefix-12345-longer b prefix-12345 c many-002999") == "a *** b *** c ***"
    chain = Redactor()  # secrets that are each other's prefixes, deeper than a regex nests
    chain.learn_values(["a" * 8 + "b" * i for i in range(600)])
    assert chain.redact("x " + "a" * 8 + "b" * 500 + " y") == "x *** y"
