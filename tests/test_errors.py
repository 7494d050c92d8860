from __future__ import annotations

from gitops_actions.errors import (
    CheckFailed,
    ExternalError,
    InputError,
    UsageError,
    exit_code_for,
)


def test_exit_codes() -> None:
    assert exit_code_for(CheckFailed("findings")) == 1
    assert exit_code_for(UsageError("bad")) == 2
    assert exit_code_for(InputError("bad")) == 2
    assert exit_code_for(ExternalError("remote down")) == 3
    assert exit_code_for(RuntimeError("bug")) == 70


def test_transient_flag_and_one_line() -> None:
    assert ExternalError("x").transient
    assert not UsageError("x").transient
    err = InputError("duplicate key\n  'image'", path="a.yaml", line=3, column=5, hint="fix it")
    assert err.one_line() == "a.yaml:3:5: duplicate key 'image' (fix it)"
