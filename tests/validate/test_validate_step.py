"""``gitops-actions validate`` as a pipeline runs it: exit codes, formats, variables."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from support import base_env, run_cli

DATA = Path(__file__).resolve().parent.parent / "data" / "validate"


def tree(tmp_path: Path, *cases: str) -> Path:
    """Copies of example cases side by side under ``tmp_path/repo``."""
    root = tmp_path / "repo"
    for case in cases:
        shutil.copytree(DATA / case, root / case.replace("/", "-"))
    return root


def test_clean_input_exits_0_with_a_summary_line(tmp_path: Path) -> None:
    root = tree(tmp_path, "valid/app")
    done = run_cli("validate", str(root))
    assert done.returncode == 0, done.stderr
    assert "validate: 6 resources, 5 files, 0 errors, 0 warnings (Kubernetes 1.32)" in done.stdout


def test_findings_exit_1_and_every_file_is_reported(tmp_path: Path) -> None:
    root = tree(tmp_path, "invalid/wrong-types", "invalid/unknown-fields")
    done = run_cli("validate", str(root))
    assert done.returncode == 1, done.stderr
    assert done.stdout.count(": error: ") == 7
    assert 'unknown field "protocl"' in done.stdout
    # plain files in one folder are one set; two folders are two apps, like two Argo CD
    # directory apps, and may both hold a Deployment web
    assert "Deployment web is defined again" not in done.stdout
    assert 'expected integer, got string "80"' in done.stdout


def test_unusable_input_exits_2_after_reporting_the_other_files(tmp_path: Path) -> None:
    root = tree(tmp_path, "invalid/one-bad-file")
    done = run_cli("validate", str(root))
    assert done.returncode == 2
    assert "expected string, got integer 3" in done.stdout  # the good file still checked
    assert "broken.yaml:7:1: cannot parse YAML" in done.stderr


def test_bad_options_exit_2(tmp_path: Path) -> None:
    for args in (
        ("validate", str(tmp_path), "--kubernetes-version", "1.99"),
        ("validate", str(tmp_path), "--format", "yaml"),
        ("validate", str(tmp_path / "missing")),
        ("validate",),
    ):
        done = run_cli(*args)
        assert done.returncode == 2, (args, done.stdout, done.stderr)


def test_several_formats_at_once(tmp_path: Path) -> None:
    root = tree(tmp_path, "invalid/removed-apis")
    reports = tmp_path / "out"
    done = run_cli(
        "validate",
        str(root),
        "--format",
        "text",
        "--format",
        f"junit={reports}/junit.xml",
        "--format",
        f"json={reports}/report.json",
        "--format",
        f"sarif={reports}/v.sarif",
        "--format",
        f"codequality={reports}/gl-code-quality.json",
    )
    assert done.returncode == 1
    assert "was removed in Kubernetes 1.22; use networking.k8s.io/v1" in done.stdout
    assert "<testsuite" in (reports / "junit.xml").read_text()
    assert json.loads((reports / "report.json").read_text())["summary"]["errors"] == 3
    assert json.loads((reports / "v.sarif").read_text())["version"] == "2.1.0"
    assert len(json.loads((reports / "gl-code-quality.json").read_text())) == 3


def test_options_come_from_gitops_variables(tmp_path: Path) -> None:
    root = tree(tmp_path, "invalid/deprecated-apis", "valid/skip-kind")
    env = base_env(
        GITOPS_PATHS=f"{root}\n",
        GITOPS_KUBERNETES_VERSION="1.25",
        GITOPS_SKIP="SealedSecret",
        GITOPS_FORMAT="json",
    )
    done = run_cli("validate", env=env)
    report = json.loads(done.stdout[: done.stdout.rindex("}") + 1])
    assert report["kubernetesVersion"] == "1.25"
    assert [f["check"] for f in report["findings"]] == ["deprecated-api", "removed-api"]
    assert done.returncode == 1


def test_warnings_fail_only_when_asked(tmp_path: Path) -> None:
    (tmp_path / "hpa.yaml").write_text(
        "apiVersion: autoscaling/v2beta2\nkind: HorizontalPodAutoscaler\nmetadata: {name: a}\n"
        "spec: {scaleTargetRef: {kind: Deployment, name: a}, maxReplicas: 2}\n"
    )
    args = ("validate", str(tmp_path), "--kubernetes-version", "1.24")
    assert run_cli(*args[:2], "--kubernetes-version", "1.25").returncode == 0
    assert run_cli(*args).returncode == 2  # 1.24 is older than the schemas we ship
    assert run_cli(*args[:2], "--kubernetes-version", "1.25", "--fail-on-warnings").returncode == 1


def test_github_actions_gets_annotations_and_a_summary_table(tmp_path: Path) -> None:
    root = tree(tmp_path, "invalid/yaml-1.1-booleans")
    summary = tmp_path / "summary.md"
    outputs = tmp_path / "outputs"
    env = base_env(
        GITHUB_ACTIONS="true", GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(outputs)
    )
    done = run_cli("validate", str(root), env=env)
    assert done.returncode == 1
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::error ")]
    assert len(annotations) == 3
    assert annotations[1].startswith(
        "::error file="
        + str(root / "invalid-yaml-1.1-booleans" / "deployment.yaml")
        .replace(":", "%3A")
        .replace(",", "%2C")
        + ",line=19,col=22,title=schema%3A Deployment web::"
    )
    assert "expected string, got boolean true" in annotations[1]
    assert "| ❌ |" in summary.read_text()
    assert "errors=3" in outputs.read_text()


def test_many_files_are_checked_by_worker_processes(tmp_path: Path) -> None:
    good = (DATA / "valid/app/deployment.yaml").read_text()
    for i in range(300):
        (tmp_path / f"d{i:03d}.yaml").write_text(good.replace("name: web\n", f"name: web{i}\n", 1))
    (tmp_path / "d150.yaml").write_text(good.replace("replicas: 2", "replicas: two"))
    done = run_cli("validate", str(tmp_path), "--workers", "2")
    assert done.returncode == 1
    assert 'd150.yaml:9:13: error: expected integer, got string "two"' in done.stdout
    assert "300 resources, 300 files, 1 error" in done.stdout


def test_secret_values_never_reach_the_report(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n"
        "data: {password: hunter2!, other: [x]}\nstringData: {pin: 12345}\n"
    )
    done = run_cli("validate", str(tmp_path), "--format", "text", "--format", "json")
    assert done.returncode == 1
    assert done.stdout.count("secret.yaml:4:") >= 2
    for value in ("hunter2", "12345", '"x"'):
        assert value not in done.stdout


def test_a_machine_format_on_stdout_is_the_only_thing_there(tmp_path: Path) -> None:
    root = tree(tmp_path, "valid/app")
    for env in (base_env(), base_env(GITHUB_ACTIONS="true")):
        done = run_cli("validate", str(root), "--format", "json", env=env)
        assert done.returncode == 0, done.stderr
        json.loads(done.stdout)  # nothing before or after the document
        assert "output errors=0" in done.stderr or "::" not in done.stdout
        assert "validate: 6 resources" in done.stderr
