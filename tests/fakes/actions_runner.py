"""A GitHub Actions runner, as much of one as running our composite actions needs.

A ``Job`` is one job on a fresh runner: its own ``RUNNER_TEMP``, workspace and environment.
``Job.use(action_dir, inputs)`` runs a composite action as the runner does: ``${{ }}``
expressions evaluated (inputs, github, runner, steps), each ``run:`` written to a file and
run with ``bash --noprofile --norc -eo pipefail``, a fresh ``GITHUB_OUTPUT``,
``GITHUB_ENV`` and ``GITHUB_PATH`` per step, read back afterwards and applied to the job
(outputs to ``steps``, ``GITHUB_ENV`` to the environment, ``GITHUB_PATH`` to the front of
``PATH``), just as the runner applies them to the steps that follow.

Two actions are stood in for: ``actions/cache`` by a directory shared between jobs (saved
at the end of the job when the key missed, as its post step does), and
``actions/setup-python`` by the local Python 3.11+ (``update-environment`` honoured).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class ActionFailed(AssertionError):
    pass


@dataclass
class StepRun:
    name: str
    seconds: float
    skipped: bool = False
    stdout: str = ""
    stderr: str = ""


@dataclass
class Use:
    """One ``uses:`` of an action in a job: its outputs and what each of its steps did."""

    outputs: dict[str, str]
    steps: list[StepRun] = field(default_factory=list)

    def seconds(self, name_start: str) -> float:
        return sum(s.seconds for s in self.steps if s.name.startswith(name_start))

    def ran(self, name_start: str) -> bool:
        return any(s.name.startswith(name_start) and not s.skipped for s in self.steps)


class Cache:
    """What actions/cache keeps between jobs: one entry per key.

    ``archive=True`` stores each entry as actions/cache does, a zstd-compressed tar, for
    timing; otherwise entries are hard-linked in and out, which is quick.
    """

    def __init__(self, root: Path, *, archive: bool = False) -> None:
        self.root = root
        self.archive = archive
        root.mkdir(parents=True, exist_ok=True)

    def _entry(self, key: str) -> Path:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", key)
        return self.root / (name + ".tar.zst" if self.archive else name)

    def restore(self, key: str, path: Path) -> bool:
        entry = self._entry(key)
        if not entry.exists():
            return False
        if self.archive:
            path.mkdir(parents=True, exist_ok=True)
            subprocess.run(["tar", "--zstd", "-xf", str(entry), "-C", str(path)], check=True)
        else:
            shutil.copytree(entry, path, symlinks=True, dirs_exist_ok=True, copy_function=os.link)
        return True

    def save(self, key: str, path: Path) -> None:
        entry = self._entry(key)
        if not path.is_dir() or entry.exists():
            return
        if self.archive:
            subprocess.run(["tar", "--zstd", "-cf", str(entry), "-C", str(path), "."], check=True)
        else:
            shutil.copytree(path, entry, symlinks=True)


class Job:
    def __init__(
        self,
        root: Path,
        cache: Cache,
        *,
        env: Mapping[str, str],
        token: str = "ghs_job_token",
        python: str | None = None,
    ) -> None:
        self.root = root
        self.cache = cache
        self.token = token
        self.python = python or shutil.which("python3.11") or sys.executable
        self.temp = root / "_temp"
        self.workspace = root / "workspace"
        for path in (self.temp, self.workspace):
            path.mkdir(parents=True, exist_ok=True)
        self.summary = self.temp / "step_summary"
        self.summary.touch()
        self.env = {
            **env,
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_REPOSITORY": "acme/app",
            "GITHUB_SHA": "0" * 40,
            "GITHUB_RUN_ID": "1",
            "GITHUB_RUN_NUMBER": "1",
            "GITHUB_SERVER_URL": "http://127.0.0.1:9",
            "GITHUB_API_URL": "http://127.0.0.1:9",
            "GITHUB_STEP_SUMMARY": str(self.summary),
            "RUNNER_OS": "Linux",
            "RUNNER_ARCH": "X64",
            "RUNNER_TEMP": str(self.temp),
        }
        self.posts: list[tuple[str, Path]] = []  # cache saves at the end of the job
        self.path_additions: list[str] = []
        self.env_additions: dict[str, str] = {}

    # -- expressions -------------------------------------------------------------------------
    def evaluate(self, expression: str, context: Mapping[str, Any]) -> Any:
        for alternative in (part.strip() for part in expression.split("||")):
            value = self._compare(alternative, context)
            if value:
                return value
        return value

    def _compare(self, text: str, context: Mapping[str, Any]) -> Any:
        for operator in ("==", "!="):
            if operator in text:
                left, right = (self._value(t.strip(), context) for t in text.split(operator))
                return (left == right) == (operator == "==")
        return self._value(text, context)

    def _value(self, text: str, context: Mapping[str, Any]) -> Any:
        if text.startswith("'") and text.endswith("'"):
            return text[1:-1].replace("''", "'")
        if text in ("true", "false"):
            return text == "true"
        value: Any = context
        for part in text.split("."):
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        return value

    def interpolate(self, text: Any, context: Mapping[str, Any]) -> str:
        if not isinstance(text, str):
            return str(text).lower() if isinstance(text, bool) else str(text)
        return EXPRESSION.sub(lambda m: str(self.evaluate(m.group(1), context)), text)

    # -- running an action -------------------------------------------------------------------
    def use(self, action_dir: Path, inputs: Mapping[str, str], *, ref: str = "v1") -> Use:
        action = yaml.safe_load((action_dir / "action.yml").read_text())
        assert action["runs"]["using"] == "composite"
        unknown = set(inputs) - set(action.get("inputs", {}))
        assert not unknown, f"inputs the action does not declare: {unknown}"
        github = {
            "action_path": str(action_dir),
            "action_ref": ref,
            "token": self.token,
            "workspace": str(self.workspace),
        }
        context: dict[str, Any] = {
            "github": github,
            "runner": {"temp": str(self.temp), "os": "Linux", "arch": "X64"},
            "steps": {},
        }
        given: dict[str, str] = {}
        for name, spec in action.get("inputs", {}).items():
            if name in inputs:
                given[name] = inputs[name]
            elif spec.get("required") and "default" not in spec:
                raise ActionFailed(f"input required and not supplied: {name}")
            else:
                given[name] = self.interpolate(spec.get("default", ""), context)
        context["inputs"] = given
        use = Use(outputs={})
        for index, step in enumerate(action["runs"]["steps"]):
            name = step.get("name") or step.get("id") or step.get("uses") or f"step {index}"
            condition = step.get("if")
            if condition is not None and not self.evaluate(condition, context):
                use.steps.append(StepRun(name, 0.0, skipped=True))
                continue
            started = time.monotonic()
            if "uses" in step:
                outputs, run = self._uses(step, context), StepRun(name, 0.0)
            else:
                outputs, run = self._run(step, name, action_dir, given, context)
            run.seconds = time.monotonic() - started
            use.steps.append(run)
            if "id" in step:
                context["steps"][step["id"]] = {"outputs": outputs, "outcome": "success"}
        use.outputs = {
            key: self.interpolate(spec["value"], context)
            for key, spec in action.get("outputs", {}).items()
        }
        return use

    def _run(
        self,
        step: Mapping[str, Any],
        name: str,
        action_dir: Path,
        inputs: Mapping[str, str],
        context: Mapping[str, Any],
    ) -> tuple[dict[str, str], StepRun]:
        assert step.get("shell") == "bash", f"{name}: only bash steps are simulated"
        files = self.temp / "_runner_file_commands"
        files.mkdir(exist_ok=True)
        tag = uuid.uuid4().hex
        commands = {
            "GITHUB_OUTPUT": files / f"set_output_{tag}",
            "GITHUB_ENV": files / f"set_env_{tag}",
            "GITHUB_PATH": files / f"add_path_{tag}",
        }
        for path in commands.values():
            path.touch()
        script = self.temp / f"{tag}.sh"
        script.write_text(step["run"])
        env = {
            **self.env,
            **{f"INPUT_{key.upper()}": value for key, value in inputs.items()},
            **{key: str(path) for key, path in commands.items()},
            "GITHUB_ACTION_PATH": str(action_dir),
            **{key: self.interpolate(value, context) for key, value in step.get("env", {}).items()},
        }
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            env=env,
            cwd=self.workspace,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        run = StepRun(name, 0.0, stdout=proc.stdout, stderr=proc.stderr)
        if proc.returncode != 0:
            raise ActionFailed(f"{name}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        for line in commands["GITHUB_PATH"].read_text().splitlines():
            self.path_additions.append(line)
            self.env["PATH"] = f"{line}:{self.env['PATH']}"
        added = parse_file_command(commands["GITHUB_ENV"].read_text())
        self.env_additions |= added
        self.env |= added
        return parse_file_command(commands["GITHUB_OUTPUT"].read_text()), run

    def _uses(self, step: Mapping[str, Any], context: Mapping[str, Any]) -> dict[str, str]:
        action = step["uses"].partition("@")[0]
        given = {k: self.interpolate(v, context) for k, v in step.get("with", {}).items()}
        if action == "actions/cache":
            path, key = Path(given["path"]), given["key"]
            assert path.is_absolute() and key, (path, key)
            hit = self.cache.restore(key, path)
            if not hit:
                self.posts.append((key, path))
            return {"cache-hit": str(hit).lower()}
        if action == "actions/setup-python":
            if given.get("update-environment", "true") != "false":
                bindir = str(Path(self.python).parent)
                self.path_additions.append(bindir)
                self.env["PATH"] = f"{bindir}:{self.env['PATH']}"
            return {"python-path": self.python, "python-version": "3.11"}
        raise ActionFailed(f"no stand-in for {step['uses']}")

    def finish(self) -> None:
        """The post steps: actions/cache saves what it did not find."""
        for key, path in self.posts:
            self.cache.save(key, path)
        self.posts.clear()


def parse_file_command(text: str) -> dict[str, str]:
    """``name=value`` lines and ``name<<DELIMITER`` blocks, as the runner reads them."""
    values: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            body = []
            for inner in lines:
                if inner == delimiter:
                    break
                body.append(inner)
            else:
                raise ActionFailed(f"{name}: no closing delimiter {delimiter!r}")
            values[name] = "\n".join(body)
        elif line:
            name, _, value = line.partition("=")
            values[name] = value
    return values
