"""What we ship for CI systems matches the registry and the platforms' schemas."""

from __future__ import annotations

import dataclasses
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gitops_actions import __version__
from gitops_actions.step import Step, env_name, option, public
from gitops_actions.steps import STEPS

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "data" / "schemas"  # copied from shared/schemas, see SOURCES.txt
sys.path.insert(0, str(ROOT / "scripts"))
import generate  # noqa: E402  (scripts/generate.py, the generator of shipped files)

SHIPPED = generate.shipped_steps()


def schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((SCHEMAS / name).read_text())
    return loaded


def action(name: str | None = None) -> dict[str, Any]:
    path = ROOT / (f"{name}/action.yml" if name else "action.yml")
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def shipped_actions() -> list[Path]:
    return [ROOT / "action.yml", *sorted(ROOT.glob("*/action.yml"))]


def test_generated_files_are_up_to_date() -> None:
    stale = [
        str(path)
        for path, text in generate.rendered().items()
        if not (ROOT / path).is_file() or (ROOT / path).read_text() != text
    ]
    assert stale == [], f"stale generated files: run {generate.COMMAND}"


def test_every_step_has_an_action_and_nothing_else_does() -> None:
    assert {path.parent.name for path in ROOT.glob("*/action.yml")} == set(SHIPPED)
    assert set(SHIPPED) == set(STEPS) - {"demo"}


@pytest.mark.parametrize("name", SHIPPED)
def test_a_steps_action_has_exactly_its_options(name: str) -> None:
    step, doc = STEPS[name], action(name)
    run = doc["runs"]["steps"][-1]
    assert run["id"] == "run" and run["run"].strip().endswith(f"gitops_actions {name}")
    carried = {key: value for key, value in run["env"].items() if key.startswith("GITOPS_")}
    del carried["GITOPS_ACTIONS_PYTHON"]
    expected = {env_name(public(field)) for field in step.fields()}
    assert set(carried) == expected  # every option, and nothing else
    inputs = doc["inputs"]
    for field in step.fields():
        meta = field.metadata["gitops"]
        key = carried[env_name(public(field))].removeprefix("${{ inputs.").removesuffix(" }}")
        assert inputs[key]["required"] is meta.required
        assert inputs[key]["description"].startswith(meta.help)
        if meta.required or field.default in (None, ()):
            assert "default" not in inputs[key]
        elif isinstance(field.default, bool):
            assert inputs[key]["default"] == str(field.default).lower()
        elif isinstance(field.default, tuple):  # one value per line, as the CLI reads them
            assert inputs[key]["default"].splitlines() == list(field.default)
        elif isinstance(field.default, float):
            assert float(inputs[key]["default"]) == field.default
        else:
            assert inputs[key]["default"] == str(field.default)
    forge = generate.uses_github_token(step)
    assert ("github-token" in inputs) is forge
    assert len(inputs) == len(expected) + forge
    assert doc["outputs"] == {
        key: {"description": text, "value": f"${{{{ steps.run.outputs.{key} }}}}"}
        for key, text in step.outputs
    }


def test_names_users_know() -> None:
    build, validate, bump = action("build")["inputs"], action("validate")["inputs"], action("bump")
    assert {"tags", "labels", "build-args"} <= set(build) and "tag" not in build
    assert validate["paths"]["required"] is True
    token = bump["inputs"]["github-token"]
    assert token["default"] == "${{ github.token }}"
    assert bump["runs"]["steps"][-1]["env"]["GITHUB_TOKEN"] == "${{ inputs.github-token }}"
    assert bump["inputs"]["images"]["description"].endswith("(one per line)")


def test_the_dispatcher_says_every_meaning_of_a_shared_name() -> None:
    doc = action()
    assert doc["inputs"]["step"]["required"] is True
    assert set(doc["inputs"]) == {"step"} | {
        item.name for name in SHIPPED for item in generate.step_inputs(STEPS[name])
    }
    several = {k: m for k, m in generate.shared_names(SHIPPED).items() if len(m) > 1}
    assert {"commit", "from", "image", "push"} <= set(several)
    for key, meanings in several.items():
        description = doc["inputs"][key]["description"]
        for (_, help_text), steps in meanings.items():
            assert f"{', '.join(steps)}: {help_text}" in description, key
    commit = doc["inputs"]["commit"]["description"]
    assert "bump: commit (and push)" in commit and "rollback: the bump commit" in commit
    run = doc["runs"]["steps"][-1]
    assert run["env"]["GITOPS_IMAGE"] == "${{ inputs.image || inputs.images }}"
    assert run["env"]["GITOPS_STEP"] == "${{ inputs.step }}"


def _step(name: str, **fields: Any) -> Step:
    options = dataclasses.make_dataclass(
        "Options", [(key, tp, option(text)) for key, (tp, text) in fields.items()], frozen=True
    )
    return Step(name, name, (), options, run=lambda opts, ctx: None)  # type: ignore[arg-type,return-value]


def test_two_meanings_sharing_one_name_are_caught() -> None:
    one = _step("one", tag=(tuple[str, ...], "tags to apply"), tags=(str, "a tag list"))
    with pytest.raises(generate.Collision, match="'tags'"):
        generate.check_names("one", generate.step_inputs(one))
    for name in SHIPPED:  # and the shipped steps have none
        generate.check_names(name, generate.step_inputs(STEPS[name]))


def test_a_name_with_two_meanings_is_described_with_both(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(STEPS, "build", _step("build", commit=(bool, "commit the change")))
    monkeypatch.setitem(STEPS, "bump", _step("bump", commit=(str, "the commit to revert")))
    monkeypatch.setattr(generate, "shipped_steps", lambda: ("build", "bump"))
    root = yaml.safe_load(generate.render_action())
    assert root["inputs"]["commit"]["description"] == (
        "build: commit the change (boolean) | bump: the commit to revert"
    )
    monkeypatch.setitem(STEPS, "bump", _step("bump", commit=(bool, "commit the change")))
    root = yaml.safe_load(generate.render_action())
    assert root["inputs"]["commit"]["description"] == "build, bump: commit the change (boolean)"


@pytest.mark.parametrize("path", shipped_actions(), ids=lambda p: str(p.relative_to(ROOT)))
def test_actions_match_githubs_schema_and_keep_inputs_out_of_scripts(path: Path) -> None:
    """The root action and every <step>/action.yml (actionlint checks workflows only)."""
    doc = yaml.safe_load(path.read_text())
    jsonschema.validate(doc, schema("github-action.json"))
    for step in doc["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), "inputs must reach scripts through env only"
        if "uses" in step:
            ref = step["uses"].split("@")[1]
            assert len(ref) == 40 and int(ref, 16) >= 0, "third-party actions pinned by commit"
    env = doc["runs"]["steps"][-1]["env"]
    for key in doc["inputs"]:
        assert any(f"inputs.{key} " in value for value in env.values()), key


def test_reference_lists_every_option_and_the_readme_links_it() -> None:
    reference = (ROOT / "docs" / "reference.md").read_text()
    for name, step in STEPS.items():
        assert f"\n## {name}\n" in reference
        for field in step.fields():
            assert f"`{env_name(public(field))}`" in reference, (name, field.name)
    readme = (ROOT / "README.md").read_text()
    assert "](docs/reference.md)" in readme
    assert "reference:start" not in readme, "the generated tables live in docs/reference.md"


# -- the tool's image: one name everywhere -----------------------------------------------------
IMAGE_MENTION = re.compile(
    r"ghcr\.io/(\$\{\{ github\.repository_owner \}\}|[\w.-]+)/gitops-actions(?![\w/-])"
    r"(:[\w.-]+|@sha256:[\w.]+)?"
)
IMAGE_FILES = (
    "README.md",
    "Dockerfile",
    "docs/*.md",
    "templates/*.yml",
    "deploy/*.yaml",
    "workflows/*/*.yml",
    ".github/workflows/*.yml",
)


def image_mentions() -> list[tuple[str, str, str]]:
    """(file, owner, tag or digest) of every ghcr.io/<owner>/gitops-actions in what we ship."""
    found = []
    for pattern in IMAGE_FILES:
        for path in sorted(ROOT.glob(pattern)):
            for match in IMAGE_MENTION.finditer(path.read_text()):
                found.append((str(path.relative_to(ROOT)), match.group(1), match.group(2) or ""))
    return found


def test_every_file_naming_the_image_agrees() -> None:
    """image.yml publishes ghcr.io/<the repository's owner>/gitops-actions tagged by version;
    the docs, the components and deploy/ name that image, at this version, or a digest."""
    registry, owner, name = generate.IMAGE.split("/")
    assert (registry, name) == ("ghcr.io", "gitops-actions")
    major, minor, _ = __version__.split(".", 2)
    versions = {f":{__version__}", f":{major}.{minor}", f":{major}"}  # for tag v<version>
    published = versions | {f"{tag}-builder" for tag in versions}  # and the target builder
    mentions = image_mentions()
    wanted = {"README.md", "docs/serve.md", "deploy/deployment.yaml", "deploy/kustomization.yaml"}
    wanted |= {".github/workflows/image.yml", *(f"templates/{step}.yml" for step in SHIPPED)}
    assert wanted <= {path for path, _, _ in mentions}
    for path, who, tag in mentions:
        if path == ".github/workflows/image.yml":
            assert who == "${{ github.repository_owner }}", (path, who)
        else:
            assert who == owner, (path, who)
        assert tag in published or tag == "" or tag.startswith("@sha256:"), (path, tag)
    # the actions and workflows users call live in the same owner's repository
    uses = re.findall(r"uses: ([\w.-]+)/gitops-actions/", (ROOT / "README.md").read_text())
    assert uses and set(uses) == {owner}
    for step in SHIPPED:  # build runs the builder image: buildah, no Docker engine needed
        spec = next(yaml.safe_load_all((ROOT / "templates" / f"{step}.yml").read_text()))
        tag = f"{__version__}-builder" if step == "build" else __version__
        assert spec["spec"]["inputs"]["tool-image"]["default"] == f"{generate.IMAGE}:{tag}"


def test_deploy_runs_the_published_image_of_this_version() -> None:
    deployment = yaml.safe_load((ROOT / "deploy" / "deployment.yaml").read_text())
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == generate.IMAGE
    kustomization = yaml.safe_load((ROOT / "deploy" / "kustomization.yaml").read_text())
    assert kustomization["images"] == [{"name": generate.IMAGE, "newTag": __version__}]


def test_the_image_workflow_builds_what_the_dockerfile_says() -> None:
    workflow = (ROOT / ".github" / "workflows" / "image.yml").read_text()
    job = yaml.safe_load(workflow)["jobs"]["image"]
    dockerfile = (ROOT / "Dockerfile").read_text()
    defaults = dict(re.findall(r"^ARG (\w+_IMAGE)=(\S+)$", dockerfile, re.MULTILINE))
    assert {key: job["env"][key] for key in defaults} == defaults
    stages = re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, re.MULTILINE)
    assert stages[-1] == "tool" and "builder" in stages  # tool: what a plain build gives
    builds = {
        s["with"]["target"]: s for s in job["steps"] if "build-push-action" in s.get("uses", "")
    }
    metas = {s["id"]: s for s in job["steps"] if "metadata-action" in s.get("uses", "")}
    assert set(builds) == {"tool", "builder"}
    for target, meta_id, suffix in (("tool", "meta", ""), ("builder", "meta-builder", "-builder")):
        build, meta = builds[target], metas[meta_id]
        args = build["with"]["build-args"].splitlines()
        assert args == [f"{k}=${{{{ env.{k} }}}}" for k in defaults]
        assert build["with"]["push"] is True
        assert build["with"]["tags"] == f"${{{{ steps.{meta_id}.outputs.tags }}}}"
        for pattern in ("{{version}}", "{{major}}.{{minor}}", "{{major}}"):
            assert f"type=semver,pattern={pattern}\n" in meta["with"]["tags"]
        assert meta["with"].get("flavor", "") == (f"suffix={suffix}" if suffix else "")
        assert f"steps.{build['id']}.outputs.digest" in workflow
    assert job["permissions"] == {"contents": "read", "packages": "write"}
