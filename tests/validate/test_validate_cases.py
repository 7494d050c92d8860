"""Example trees: every valid case passes clean, every invalid case finds exactly what its
``expected`` file lists (file:line:column: severity: check: message).

A case directory holds the input, and optionally ``paths`` (what to validate, default
``.``) and ``args`` (extra options, as on the command line).
"""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest

from gitops_actions.validate.runner import Request, validate

DATA = Path(__file__).resolve().parent.parent / "data" / "validate"
VALID = sorted(p for p in (DATA / "valid").iterdir() if p.is_dir())
INVALID = sorted(p for p in (DATA / "invalid").iterdir() if p.is_dir())


def request_for(case: Path) -> Request:
    args = shlex.split((case / "args").read_text()) if (case / "args").exists() else []
    paths = shlex.split((case / "paths").read_text()) if (case / "paths").exists() else ["."]
    options: dict[str, object] = {}
    crds: list[str] = []
    skip: set[str] = set()
    while args:
        flag = args.pop(0)
        if flag == "--kubernetes-version":
            options["kubernetes_version"] = args.pop(0)
        elif flag == "--crd":
            crds.append(args.pop(0))
        elif flag == "--skip":
            skip.add(args.pop(0))
        elif flag == "--ignore-missing-schemas":
            options["ignore_missing_schemas"] = True
        else:
            raise AssertionError(f"{case}/args: unknown option {flag}")
    return Request(
        paths=tuple(paths),
        crd_paths=tuple(crds),
        skip=frozenset(skip),
        workers=1,
        **options,  # type: ignore[arg-type]
    )


def lines(case: Path) -> list[str]:
    outcome = validate(request_for(case))
    return [
        f"{f.file}:{f.line}:{f.column}: {f.severity}: {f.check}: {f.message}"
        for f in outcome.findings
    ]


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.name)
def test_valid_case_is_clean(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(case)
    outcome = validate(request_for(case))
    assert outcome.findings == ()
    assert outcome.resources > 0


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.name)
def test_invalid_case_finds_what_is_expected(case: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(case)
    expected = (case / "expected").read_text().splitlines()
    assert expected, f"{case.name}: an invalid case must expect findings"
    assert lines(case) == expected


def test_every_check_has_a_case() -> None:
    from gitops_actions.validate.findings import CHECKS

    covered = set()
    for case in INVALID:
        for line in (case / "expected").read_text().splitlines():
            covered.add(line.split(": ")[2])
    # render failures are covered with the real kubectl in test_validate_render
    assert covered >= set(CHECKS) - {"render"}
