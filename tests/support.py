"""Helpers shared by the tests: the CLI as users run it, and the CI-or-skip rule."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import pytest

IN_CI = os.environ.get("CI") == "true"


def need(reason: str) -> NoReturn:
    """A real component is missing: fail in CI, skip elsewhere."""
    if IN_CI:
        pytest.fail(f"required component unavailable in CI: {reason}")
    pytest.skip(reason)


def base_env(**extra: str) -> dict[str, str]:
    """A clean environment: no CI variables, no GITOPS_* leaking in from the caller."""
    keep = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return env | extra


def run_cli(
    *args: str, env: Mapping[str, str] | None = None, cwd: Path | None = None, timeout: int = 300
) -> subprocess.CompletedProcess[str]:
    """Run ``gitops-actions ARGS`` in a subprocess, as a pipeline would."""
    return subprocess.run(
        [sys.executable, "-m", "gitops_actions", *args],
        env=dict(base_env() if env is None else env),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
