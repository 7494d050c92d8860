"""Secrets stay hidden in every output of diff, validate and comment, whatever their shape.

Plain manifests only (no kustomize binary needed): a Secret whose payload is a list, nested
or a scalar; a Secret's value copied into a ConfigMap; a CI token committed in a manifest.
Each is looked for as it is, line by line and in base64, in stdout, stderr, the report
files, the step summary and the comment posted from the diff.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from gitops_actions import git
from gitops_actions.secrets import secret_values

from support import base_env, run_cli

TOKEN = "ghs_T0kenCommittedByMistake42xyz"
PASSWORD = "hunter2-list-shaped-password"
NESTED = "nested-secret-value-Zq81"
MULTILINE = "-----BEGIN KEY-----\nline-one-of-the-key\nline-two-of-the-key\n-----END KEY-----"
COPIED = "copied-into-a-configmap-77"
SCALAR = "scalar-string-data-Mx3"
ENCODED = "encoded-data-value-Qw9"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def leaked(texts: list[str], secrets: list[str]) -> list[str]:
    """Forms of ``secrets`` shown, beyond the ``::add-mask::`` commands that carry them to
    the runner (which never prints them)."""
    texts = [
        "\n".join(line for line in text.splitlines() if not line.startswith("::add-mask::"))
        for text in texts
    ]
    forms = set()
    for secret in secrets:
        for piece in [secret, *secret.splitlines()]:
            if len(piece) >= 8:
                forms |= {piece, b64(piece)}
    return sorted(f for f in forms if any(f in text for text in texts))


def manifests(version: str) -> dict[str, str]:
    return {
        "apps/shop/secret-list.yaml": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: listed\n"
            f"stringData:\n  - {PASSWORD}-{version}\n  - {MULTILINE!r}\n"
        ).replace("'", '"'),
        "apps/shop/secret-nested.yaml": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: nested\n"
            f"stringData:\n  outer:\n    inner: [{NESTED}-{version}]\n"
            f"data:\n  key: {b64(ENCODED + '-' + version)}\n"
        ),
        "apps/shop/secret-scalar.yaml": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: scalar\n"
            f"stringData: {SCALAR}-{version}\n"
        ),
        "apps/shop/copy.yaml": (
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: source\n"
            f"stringData:\n  value: {COPIED}-{version}\n---\n"
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: copy\n"
            f"data:\n  value: {COPIED}-{version}\n  again: prefix {COPIED}-{version} suffix\n"
        ),
        "apps/shop/token.yaml": (
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: shop\n"
            f"  annotations:\n    token: {TOKEN}\n    token-b64: {b64(TOKEN)}\n"
            f"    version: '{version}'\n"
            "spec:\n  replicas: 1\n  selector: {matchLabels: {app: shop}}\n"
            "  template:\n    metadata: {labels: {app: shop}}\n"
            "    spec:\n      containers: [{name: shop, image: 'shop:1'}]\n"
        ),
    }


SECRETS = [
    *(f"{s}-{v}" for s in (PASSWORD, NESTED, SCALAR, COPIED, ENCODED) for v in ("v1", "v2")),
    MULTILINE,
    TOKEN,
]


@pytest.fixture
def repo(tmp_path: Path) -> git.Repo:
    root = tmp_path / "config"
    for version in ("v1", "v2"):
        for rel, text in manifests(version).items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        if version == "v1":
            repo = git.init(root)
        repo.add()
        repo.commit(version)
    return repo


def test_the_secret_shapes_are_all_seen() -> None:
    import yaml

    found = set()
    for text in manifests("v1").values():
        for doc in yaml.safe_load_all(text):
            found |= set(secret_values(doc))
    for secret in [s for s in SECRETS if s.endswith("v1")] + [MULTILINE]:
        assert secret in found


def test_no_secret_in_any_diff_output_report_summary_or_comment(
    repo: git.Repo, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    env = base_env(GITHUB_ACTIONS="true", GITHUB_TOKEN=TOKEN, GITHUB_STEP_SUMMARY=str(summary))
    out = tmp_path / "out"
    out.mkdir()
    formats = ("--format", f"json={out}/diff.json", "--format", f"markdown={out}/diff.md")

    diffed = run_cli("diff", "--repo", str(repo.path), *formats, env=env)
    printed = run_cli("diff", "--repo", str(repo.path), "--format", "json", env=env)
    forge = tmp_path / "forge"
    posted = run_cli(
        "comment", "--from", f"{out}/diff.json", "--forge", "local", "--forge-dir",
        str(forge), "--pr", "1", "--project", "config", env=base_env(),
    )  # fmt: skip

    for proc in (diffed, printed, posted):
        assert proc.returncode == 0, proc.stderr
    assert json.loads(printed.stdout)["target"] == "config"  # no ::add-mask:: in a document
    report = (out / "diff.json").read_text()
    assert "<redacted" in report and "ConfigMap" in report and "Deployment" in report
    texts = [
        *(p.stdout + p.stderr for p in (diffed, printed, posted)),
        report,
        (out / "diff.md").read_text(),
        summary.read_text(),
        *(p.read_text() for p in forge.rglob("*.md")),
    ]
    assert leaked(texts, SECRETS) == []
    # what changed is still said, without the values
    assert "stringData: <redacted, changed" in report
    assert "data.value: *** -> ***" in report


def test_no_secret_in_validate_reports(repo: git.Repo, tmp_path: Path) -> None:
    bad = repo.path / "apps/shop/bad.yaml"
    bad.write_text(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\n"
        f"spec:\n  replicas: {COPIED}-v2\n  paused: {TOKEN}\n"
        "  selector: {matchLabels: {app: bad}}\n"
        "  template:\n    metadata: {labels: {app: bad}}\n"
        "    spec:\n      containers: [{name: bad, image: 'bad:1'}]\n"
    )
    out = tmp_path / "reports"
    formats = [f"--format={name}={out}/report.{name}" for name in ("json", "sarif", "junit")]
    env = base_env(GITHUB_TOKEN=TOKEN, GITOPS_SUMMARY_FILE=str(tmp_path / "summary.md"))

    proc = run_cli("validate", str(repo.path / "apps"), *formats, "--format=text", env=env)

    assert proc.returncode == 1, proc.stderr
    files = sorted(out.iterdir())
    assert len(files) == 3 and "replicas" in (out / "report.json").read_text()
    texts = [proc.stdout, proc.stderr, *(p.read_text() for p in files)]
    assert leaked(texts, [f"{COPIED}-v2", TOKEN]) == []
