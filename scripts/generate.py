"""Generate what we ship for CI systems from the step registry, so it cannot drift.

    python scripts/generate.py

rewrites, for every step of the registry (the demo aside):
  <step>/action.yml   a composite GitHub Action with exactly that step's inputs and outputs
  action.yml          the dispatcher: input ``step`` plus every step's inputs
  templates/<step>.yml a GitLab CI/CD component (the CI/CD Catalog layout) for the step
  docs/reference.md    the configuration reference (every option: flag, variable, default)
tests/test_distribution.py fails when a committed file differs from what this writes.
A step added to the registry gets its files on the next run.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops_actions import __version__
from gitops_actions.step import Step, env_name, public
from gitops_actions.steps import STEPS

ROOT = Path(__file__).resolve().parent.parent
COMMAND = "python scripts/generate.py"

# Third-party actions the composite actions use, pinned by commit (tag in the comment).
SETUP_PYTHON = "actions/setup-python@ece7cb06caefa5fff74198d8649806c4678c61a1"  # v6.3.0
CACHE = "actions/cache@27d5ce7f107fe9357f9df03efb73ab90386fccae"  # v5.0.5
PINNED_TAGS = {SETUP_PYTHON: "v6.3.0", CACHE: "v5.0.5"}
PYTHON_VERSION = "3.11"  # what setup-python installs (the lock is compiled for 3.11)

# Repeatable options take plural input names (tags, labels, build-args); verbs and
# adjectives stay as they are.
NOT_PLURAL = frozenset({"set", "skip", "redact", "protected", "cache-from", "cache-to", "flavor"})

TOKEN_INPUT = "github-token"
TOKEN_HELP = "token for the GitHub API (pull requests, comments) and ghcr.io"


def uses_github_token(step: Step) -> bool:
    """Steps that read GITHUB_TOKEN: those that talk to a forge, and build (for ghcr.io)."""
    return step.name == "build" or any(field.name == "forge" for field in step.fields())


def shipped_steps() -> tuple[str, ...]:
    return tuple(name for name in STEPS if name != "demo")


# -- the inputs of one step ------------------------------------------------------------------
@dataclass(frozen=True)
class Input:
    """One option as a CI input: its name, the variable that carries it to the CLI, and more."""

    name: str
    env: str
    help: str
    kind: str  # string, boolean, number, array
    default: str | None  # None: no default (unset)
    required: bool = False
    choices: tuple[str, ...] = ()
    secret: bool = False

    @property
    def meaning(self) -> tuple[str, str]:
        return (self.kind, self.help)


def _kind(annotation: Any) -> str:
    if typing.get_origin(annotation) is tuple:
        return "array"
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    scalar = args[0] if args else annotation
    if scalar is bool:
        return "boolean"
    if scalar in (int, float):
        return "number"
    return "string"


def _default(value: Any) -> str | None:
    if value in (None, (), dataclasses.MISSING):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, tuple):
        return "\n".join(str(item) for item in value)
    return str(value)


def input_name(name: str, kind: str) -> str:
    dashed = name.replace("_", "-")
    if kind == "array" and not dashed.endswith("s") and dashed not in NOT_PLURAL:
        return dashed + "s"
    return dashed


def step_inputs(step: Step) -> list[Input]:
    """The step's options as inputs, in the order the options dataclass declares them."""
    hints = typing.get_type_hints(step.options)
    inputs = []
    for field in step.fields():
        meta = field.metadata["gitops"]
        kind = _kind(hints[field.name])
        inputs.append(
            Input(
                name=input_name(public(field), kind),
                env=env_name(public(field)),
                help=meta.help,
                kind=kind,
                default=None if meta.required else _default(field.default),
                required=meta.required,
                choices=meta.choices,
                secret=meta.secret,
            )
        )
    if uses_github_token(step):
        inputs.append(Input(TOKEN_INPUT, "GITHUB_TOKEN", TOKEN_HELP, "string", "", secret=True))
    return inputs


class Collision(ValueError):
    pass


def check_names(step: str, inputs: Iterable[Input]) -> None:
    """One name, one meaning: two options of a step may not share an input name."""
    seen: dict[str, Input] = {}
    for item in inputs:
        if item.name in seen:
            raise Collision(f"{step}: {seen[item.name].env} and {item.env} are both {item.name!r}")
        seen[item.name] = item


def shared_names(steps: Iterable[str]) -> dict[str, dict[tuple[str, str], list[str]]]:
    """Input name -> each distinct meaning (kind, help) -> the steps that give it that one."""
    names: dict[str, dict[tuple[str, str], list[str]]] = {}
    for name in steps:
        for item in step_inputs(STEPS[name]):
            names.setdefault(item.name, {}).setdefault(item.meaning, []).append(name)
    return names


def describe(meanings: dict[tuple[str, str], list[str]]) -> str:
    """A dispatcher input's description: every meaning, each with the steps that use it."""
    parts = []
    for (kind, help_text), steps in meanings.items():
        typed = {"string": "", "array": " (one per line)"}.get(kind, f" ({kind})")
        parts.append(f"{', '.join(steps)}: {help_text}{typed}")
    return " | ".join(parts)


class _Dumper(yaml.SafeDumper):
    """Block style for scripts, so the shipped files read like hand-written ones."""


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def dump(doc: Any) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100)


# -- GitHub composite actions ----------------------------------------------------------------
def _expr(text: str) -> str:
    return "${{ " + text + " }}"


FIND_PYTHON = """\
for candidate in python3 python; do
  if command -v "$candidate" >/dev/null &&
    "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "path=$(command -v "$candidate")" >> "$GITHUB_OUTPUT"
    break
  fi
done
"""

LOCATE = """\
root="$(cd "$ACTION_PATH{up}" && pwd)"
lock="$root/requirements/runtime.txt"
tag="$("$PYTHON" -c 'import hashlib, sys
digest = hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest()[:16]
print("py%d.%d-%s" % (*sys.version_info[:2], digest))' "$lock")"
venv="$RUNNER_TEMP/gitops-actions/$tag"
{{
  echo "root=$root"
  echo "venv=$venv"
  echo "key=gitops-actions-$RUNNER_OS-$RUNNER_ARCH-${{ACTION_REF:-$(basename "$root")}}-$tag"
  if [ -f "$venv/.complete" ]; then echo "present=true"; fi
}} >> "$GITHUB_OUTPUT"
"""

INSTALL = """\
if ! { [ -f "$VENV/.complete" ] && "$VENV/bin/python" -c 'import yaml' 2>/dev/null; }; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --no-input \\
    --no-compile --require-hashes --only-binary :all: -r "$ROOT/requirements/runtime.txt"
  touch "$VENV/.complete"
fi
site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_path("purelib"))')"
printf '%s\\n' "$ROOT" > "$site/gitops_actions_source.pth"
echo "python=$VENV/bin/python" >> "$GITHUB_OUTPUT"
"""


def install_steps(up: str) -> list[dict[str, Any]]:
    """Python >= 3.11, then a venv of the locked runtime dependencies, cached and called by
    path: nothing is added to PATH or the environment of later steps."""
    python = _expr("steps.python.outputs.path || steps.setup-python.outputs.python-path")
    return [
        {"id": "python", "name": "Find Python 3.11 or newer", "shell": "bash", "run": FIND_PYTHON},
        {
            "id": "setup-python",
            "name": "Set up Python (the runner's is older than 3.11)",
            "if": "steps.python.outputs.path == ''",
            "uses": SETUP_PYTHON,
            "with": {"python-version": PYTHON_VERSION, "update-environment": False},
        },
        {
            "id": "locate",
            "name": "Locate the gitops-actions environment",
            "shell": "bash",
            "env": {
                "ACTION_PATH": _expr("github.action_path"),
                "ACTION_REF": _expr("github.action_ref"),
                "PYTHON": python,
            },
            "run": LOCATE.format(up=up),
        },
        {
            "name": "Restore the gitops-actions environment",
            "if": "steps.locate.outputs.present != 'true'",
            "uses": CACHE,
            "with": {
                "path": _expr("steps.locate.outputs.venv"),
                "key": _expr("steps.locate.outputs.key"),
            },
        },
        {
            "id": "install",
            "name": "Install gitops-actions (locked, with hashes)",
            "shell": "bash",
            "env": {
                "PYTHON": python,
                "ROOT": _expr("steps.locate.outputs.root"),
                "VENV": _expr("steps.locate.outputs.venv"),
            },
            "run": INSTALL,
        },
    ]


def _github_input(item: Input) -> dict[str, Any]:
    text = f"{item.help} (one per line)" if item.kind == "array" else item.help
    spec: dict[str, Any] = {"description": text, "required": item.required}
    if item.name == TOKEN_INPUT:
        spec["default"] = _expr("github.token")
    elif item.default is not None:
        spec["default"] = item.default
    return spec


def _action(
    name: str,
    description: str,
    inputs: dict[str, Any],
    outputs: dict[str, str],
    env: dict[str, str],
    command: str,
    up: str,
) -> str:
    doc = {
        "name": name,
        "description": description,
        "author": "gitops-actions",
        "branding": {"icon": "git-commit", "color": "blue"},
        "inputs": inputs,
        "outputs": {
            key: {"description": text, "value": _expr(f"steps.run.outputs.{key}")}
            for key, text in outputs.items()
        },
        "runs": {
            "using": "composite",
            "steps": [
                *install_steps(up),
                {
                    "id": "run",
                    "name": name,
                    "shell": "bash",
                    "env": {"GITOPS_ACTIONS_PYTHON": _expr("steps.install.outputs.python"), **env},
                    "run": f'"$GITOPS_ACTIONS_PYTHON" -I -m gitops_actions {command}\n',
                },
            ],
        },
    }
    header = (
        f"# Generated from the step registry by `{COMMAND}`: do not edit.\n"
        "# Inputs reach the CLI as environment variables, never inside a script.\n"
    )
    text = dump(doc)
    for pinned, tag in PINNED_TAGS.items():
        text = text.replace(f"uses: {pinned}\n", f"uses: {pinned} # {tag}\n")
    return header + text


def render_step_action(name: str) -> str:
    step = STEPS[name]
    inputs = step_inputs(step)
    check_names(name, inputs)
    return _action(
        f"gitops-actions {name}",
        step.summary,
        {item.name: _github_input(item) for item in inputs},
        dict(step.outputs),
        {item.env: _expr(f"inputs.{item.name}") for item in inputs},
        name,
        "/..",
    )


def render_action() -> str:
    """The root action: ``step`` picks the step; each input's description says what it means
    for each step that takes it (one name may mean different things to different steps)."""
    steps = shipped_steps()
    names = shared_names(steps)
    feeds: dict[str, list[str]] = {}  # variable -> the inputs that carry it (image, images)
    for name in steps:
        for item in step_inputs(STEPS[name]):
            if item.name not in feeds.setdefault(item.env, []):
                feeds[item.env].append(item.name)
    inputs: dict[str, Any] = {
        "step": {"description": f"the step to run: {', '.join(steps)}", "required": True}
    }
    for key, meanings in names.items():
        inputs[key] = {"description": describe(meanings), "required": False}
        if key == TOKEN_INPUT:
            inputs[key]["default"] = _expr("github.token")
    outputs: dict[str, dict[tuple[str, str], list[str]]] = {}
    for name in steps:
        for key, text in STEPS[name].outputs:
            outputs.setdefault(key, {}).setdefault(("string", text), []).append(name)
    return _action(
        "gitops-actions",
        "CI steps for GitOps: build and push an image, bump it in the config repo, validate, "
        "diff and comment. Pick one with `step`, or use <owner>/gitops-actions/<step>.",
        inputs,
        {key: describe(meanings) for key, meanings in outputs.items()},
        {
            "GITOPS_STEP": _expr("inputs.step"),
            **{env: _expr(" || ".join(f"inputs.{k}" for k in keys)) for env, keys in feeds.items()},
        },
        '"$GITOPS_STEP"',
        "",
    )


# -- GitLab CI/CD components -----------------------------------------------------------------
# The tool's image, as .github/workflows/image.yml publishes it for a release: a component
# of version X runs the image of version X (tests/test_distribution.py checks that every
# file naming the image agrees).
IMAGE = "ghcr.io/gitops-actions/gitops-actions"
TOOL_IMAGE = f"{IMAGE}:{__version__}"
# The Dockerfile's target `builder`: the same with buildah, as root, so that build needs no
# Docker engine on the runner (docs/build.md).
BUILDER_IMAGE = f"{IMAGE}:{__version__}-builder"
# The steps that run another image than TOOL_IMAGE: the image, and what it is.
TOOL_IMAGES = {"build": (BUILDER_IMAGE, "the gitops-actions builder image (buildah, as root)")}
# What a component adds to its step's inputs: where and as what the job runs.
JOB_INPUTS = {
    "job-name": ("name of the job", "gitops-{step}"),
    "job-stage": ("stage the job runs in", "{stage}"),
    "tool-image": ("{image_is}; pin it by digest (IMAGE@sha256:...)", "{image}"),
}


def tool_image(step: str) -> tuple[str, str]:
    """The image a step's component runs by default, and what it is."""
    return TOOL_IMAGES.get(step, (TOOL_IMAGE, "the gitops-actions image"))
STAGES = {"build": "build", "validate": "test", "diff": "test", "comment": "test"}
DOTENV = "gitops.env"
# Report files a step writes by default in a component, and the artifact report each is.
REPORTS: dict[str, dict[str, tuple[str, str]]] = {
    "validate": {
        "junit": ("junit", "gitops-junit.xml"),
        "codequality": ("codequality", "gitops-codequality.json"),
    },
}


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def gitlab_input(item: Input) -> dict[str, Any]:
    """A ``spec:inputs`` entry: typed, with a default unless required, options when closed.
    An option that is unset by default (no value, or "auto" for a boolean) is a string that
    may stay empty, since a typed number or boolean cannot be empty."""
    spec: dict[str, Any] = {"description": item.help[:1024], "type": "string"}
    if item.kind == "array":
        spec["type"] = "array"
        if not item.required:
            spec["default"] = item.default.splitlines() if item.default else []
    elif item.required:
        pass
    elif item.kind == "boolean" and item.default is not None:
        spec |= {"type": "boolean", "default": item.default == "true"}
    elif item.kind == "boolean":
        spec |= {"default": "", "options": ["", "true", "false"]}
    elif item.kind == "number" and item.default is not None:
        spec |= {"type": "number", "default": _number(item.default)}
    elif item.kind == "number":
        spec |= {"default": "", "regex": "^([0-9]+([.][0-9]+)?)?$"}
    else:
        spec["default"] = item.default or ""
    if item.choices:
        spec["options"] = [*([""] if spec.get("default") == "" else []), *item.choices]
    return spec


def component_inputs(name: str) -> list[Input]:
    inputs = [item for item in step_inputs(STEPS[name]) if item.name != TOKEN_INPUT]
    reports = REPORTS.get(name, {})
    if reports:  # the step writes its reports unless the formats are changed
        defaults = ["text", *(f"{fmt}={path}" for fmt, (_, path) in reports.items())]
        inputs = [
            dataclasses.replace(i, default="\n".join(defaults)) if i.env == "GITOPS_FORMAT" else i
            for i in inputs
        ]
    return inputs


def render_component(name: str) -> str:
    inputs = component_inputs(name)
    extra = [Input(key, "", text, "string", None) for key, (text, _) in JOB_INPUTS.items()]
    check_names(name, [*inputs, *extra])
    image, image_is = tool_image(name)
    stage = STAGES.get(name, "deploy")
    header = {
        "spec": {
            "inputs": {
                **{
                    key: {
                        "description": text.format(image_is=image_is),
                        "type": "string",
                        "default": default.format(step=name, stage=stage, image=image),
                    }
                    for key, (text, default) in JOB_INPUTS.items()
                },
                **{item.name: gitlab_input(item) for item in inputs},
            }
        }
    }
    reports = {"dotenv": DOTENV} | {kind: path for kind, path in REPORTS.get(name, {}).values()}
    job = {
        "$[[ inputs.job-name ]]": {
            "stage": "$[[ inputs.job-stage ]]",
            "image": {"name": "$[[ inputs.tool-image ]]", "entrypoint": [""]},
            "variables": {item.env: f"$[[ inputs.{item.name} ]]" for item in inputs},
            "script": [f"gitops-actions {name}"],
            "artifacts": {"when": "always", "reports": reports},
        }
    }
    text = dump(header) + "---\n" + dump(job)
    for item in inputs:  # quoted, so an array input arrives as its JSON text
        text = text.replace(f": $[[ inputs.{item.name} ]]\n", f": '$[[ inputs.{item.name} ]]'\n")
    return (
        f"# Generated from the step registry by `{COMMAND}`: do not edit.\n"
        f"# GitLab CI/CD component: {STEPS[name].summary}\n"
        "# Inputs reach the CLI as GITOPS_* variables; outputs come back as a dotenv report.\n"
        + text
    )


# -- the configuration reference (docs/reference.md) ------------------------------------------
REFERENCE_INTRO = """\
Every option is a flag and an environment variable: `--dry-run` is `GITOPS_DRY_RUN`. A flag
given on the command line wins; an empty variable counts as unset; a repeatable option
(`--tags`, `--crd`, `--image` of bump) takes one value per line from its variable (or a JSON
array); a boolean variable takes `true`/`false` (also `1`/`0`,
`yes`/`no`, `on`/`off`).

In the GitHub Actions (`<step>/action.yml`) and GitLab components (`templates/<step>.yml`)
each option is an input named like its flag without the dashes; repeatable options take a
plural name (`tags`, `crds`, `images`; verbs such as `set`, `skip`, `redact` stay): one value
per line in GitHub, an array in GitLab. Steps that talk to a forge, and build (for ghcr.io),
also take `github-token` in GitHub Actions (default `${{ github.token }}`).
"""


def render_reference() -> str:
    """The configuration reference: every option of every step, flag and variable."""
    from gitops_actions.cli import GlobalOptions

    def table(fields: tuple[Any, ...]) -> list[str]:
        rows = ["| flag | variable | default | meaning |", "|---|---|---|---|"]
        for field in fields:
            meta = field.metadata["gitops"]
            name = public(field)
            flag = f"`{name.upper()}`..." if meta.positional else f"`--{name.replace('_', '-')}`"
            default = "" if field.default in (None, (), dataclasses.MISSING) else field.default
            if meta.required:
                default = "required"
            shown = f"`{default}`" if default not in ("", "required") else default
            text = meta.help.replace("|", "\\|")
            rows.append(f"| {flag} | `{env_name(name)}` | {shown} | {text} |")
        return rows

    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from the step registry by `{COMMAND}`: do not edit. -->",
        "",
        REFERENCE_INTRO,
        "## Common options (every step)",
        "",
    ]
    lines += table(dataclasses.fields(GlobalOptions))
    for name, step in STEPS.items():
        lines += ["", f"## {name}", "", *table(step.fields())]
    return "\n".join(lines) + "\n"


# -- everything ------------------------------------------------------------------------------
def rendered() -> dict[Path, str]:
    """Every generated file (relative to the repository root) and its content."""
    files = {Path("action.yml"): render_action()}
    for name in shipped_steps():
        files[Path(name) / "action.yml"] = render_step_action(name)
        files[Path("templates") / f"{name}.yml"] = render_component(name)
    files[Path("docs") / "reference.md"] = render_reference()
    return files


def main() -> int:
    for path, text in rendered().items():
        (ROOT / path).parent.mkdir(parents=True, exist_ok=True)
        (ROOT / path).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
