"""Hostile ``build`` options: tag rules, secret specs, platforms and build arguments of the
wrong shape. Each is one line, exit 2, before any engine is looked for (the engine given is
one that cannot answer, so a late check shows as exit 3), and no secret value is printed:
not one given by ``env=``, not one in a build argument beside the bad one.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

from hostile import judge, run

VALUE = "s3cret-" + secrets.token_hex(8)  # in $BUILD_SECRET and in a build argument
FILE_VALUE = "file-s3cret-" + secrets.token_hex(8)
CI = {
    "GITHUB_ACTIONS": "true",
    "GITHUB_EVENT_NAME": "push",
    "GITHUB_REF": "refs/heads/main",
    "GITHUB_REF_NAME": "main",
    "GITHUB_SHA": "a" * 40,
    "GITHUB_REPOSITORY": "acme/app",
    "BUILD_SECRET": VALUE,
}
CASES = {
    "tag rule of no type": ["--tags", "type=bogus"],
    "raw rule without a value": ["--tags", "type=raw"],
    "match rule with a broken regex": ["--tags", "type=match,pattern=("],
    "ref rule of an unknown event": ["--tags", "type=ref,event=nope"],
    "sha rule of an unknown format": ["--tags", "type=sha,format=weird"],
    "a tag with a digest": ["--tags", "r.test/app:1@sha256:" + "0" * 64],
    "a reference with no tag": ["--tags", "r.test/app"],
    "a bad flavor": ["--tags", "1.0", "--flavor", "latest=maybe"],
    "a flavor of no key": ["--tags", "1.0", "--flavor", "prefix"],
    "secret without a source": ["--tags", "1.0", "--secret", "id=x"],
    "secret with no id": ["--tags", "1.0", "--secret", "src=secret.txt"],
    "secret with both sources": [
        "--tags", "1.0", "--secret", "id=x,src=secret.txt,env=BUILD_SECRET"
    ],
    "secret with an unknown field": [
        "--tags", "1.0", "--secret", "id=x,env=BUILD_SECRET,mode=0644"
    ],
    "secret from an unset variable": ["--tags", "1.0", "--secret", "id=x,env=NOT_SET_AT_ALL"],
    "secret from a missing file": ["--tags", "1.0", "--secret", "id=x,src=missing.txt"],
    "secret of garbage": ["--tags", "1.0", "--secret", ",,=,=,"],
    "a good secret and a bad one": [
        "--tags", "1.0", "--secret", "id=a,env=BUILD_SECRET", "--secret", "id=b,src=secret.txt",
        "--secret", "id=c",
    ],
    "platform leading up": ["--tags", "1.0", "--platform", "../../etc"],
    "platform of four parts": ["--tags", "1.0", "--platform", "linux/amd64/v8/x"],
    "platform of commas only": ["--tags", "1.0", "--platform", ",,"],
    "platform huge": ["--tags", "1.0", "--platform", "linux/" + "a" * 100_000],
    "platform with a space": ["--tags", "1.0", "--platform", "linux/amd 64"],
    "build arg without a value": ["--tags", "1.0", "--build-arg", "NOEQUALS"],
    "build arg without a name": ["--tags", "1.0", "--build-arg", "=value"],
    "bad build arg after a secret one": [
        "--tags", "1.0", "--build-arg", f"TOKEN={VALUE}", "--build-arg", "bad"
    ],
    "label without a name": ["--tags", "1.0", "--label", "=x"],
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_build_options_are_one_line_exit_2(tmp_path: Path, name: str) -> None:
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    (tmp_path / "secret.txt").write_text(FILE_VALUE)

    result = run(
        "build", "--image", "r.test/app", "--no-push", "--ci", "terminal",
        "--builder", "docker", "--docker-host", "tcp://127.0.0.1:9", *CASES[name],
        cwd=tmp_path, env=CI,
    )  # fmt: skip

    judge(result, codes=(2,), secrets=[VALUE, FILE_VALUE])
    assert "Docker engine" not in result.stderr, "checked only after the engine"
