"""Schemas: Kubernetes releases offline, CRDs made strict as the API server is, and the
bundled Argo CD and Flux schemas generated (not edited) from the upstream CRDs."""

from __future__ import annotations

import gzip
import importlib.util
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gitops_actions.errors import UsageError
from gitops_actions.validate import crds, schemas

from support import need

ROOT = Path(__file__).resolve().parents[2]
SHARED_CRDS = ROOT.parent / "shared" / "crds"


def valid(api_version: str, kind: str, value: dict[str, Any], catalog: schemas.Catalog) -> bool:
    validator = catalog.validator(api_version, kind)
    assert validator is not None
    return bool(validator.is_valid(value))


@pytest.mark.parametrize("version", ["1.25", "1.29", "1.32", "1.37"])
def test_every_supported_release_has_its_schemas(version: str) -> None:
    catalog = schemas.Catalog(version)
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i"}]},
    }
    assert valid("v1", "Pod", pod, catalog)
    assert not valid("v1", "Pod", {**pod, "spex": {}}, catalog)


def test_removed_apis_have_no_schema_in_later_releases() -> None:
    assert schemas.Catalog("1.25").validator("autoscaling/v2beta2", "HorizontalPodAutoscaler")
    assert not schemas.Catalog("1.26").validator("autoscaling/v2beta2", "HorizontalPodAutoscaler")


@pytest.mark.parametrize("text", ["1.32", "v1.32", "1.32.4", " 1.25 "])
def test_versions_are_read_as_major_minor(text: str) -> None:
    assert schemas.parse_version(text) in ("1.32", "1.25")


@pytest.mark.parametrize("text", ["1.24", "1.38", "latest", "1"])
def test_versions_outside_what_ships_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        schemas.parse_version(text)


def test_kubernetes_schemas_ship_with_the_package_as_kubernetes_validate_has_them() -> None:
    """scripts/vendor-kubernetes-schemas.py copied them unchanged; nothing is downloaded."""
    shipped = sorted(p.name for p in schemas.KUBERNETES.glob("*.json.gz"))
    wanted = [f"v1.{m}.json.gz" for m in range(schemas.OLDEST[1], schemas.NEWEST[1] + 1)]
    assert shipped == sorted(wanted)
    spec = importlib.util.find_spec("kubernetes_validate")  # a test dependency
    assert spec is not None and spec.submodule_search_locations
    source = Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"
    for minor in range(schemas.OLDEST[1], schemas.NEWEST[1] + 1):
        original = (source / f"v1.{minor}.0-local" / "_definitions.json").read_bytes()
        shipped = (schemas.KUBERNETES / f"v1.{minor}.json.gz").read_bytes()
        assert gzip.decompress(shipped) == original


# -- CRDs -----------------------------------------------------------------------------------
def kind(openapi: dict[str, Any], *, prune: bool = True) -> schemas.Catalog:
    custom = crds.CustomKind("example.com/v1", "Thing", True, openapi, prune)
    return schemas.Catalog("1.32", [custom])


def thing(spec: Any, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Thing",
        "metadata": {"name": "t", **meta},
        "spec": spec,
    }


def spec_of(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": {"type": "object", "properties": props}}}


def test_crd_unknown_fields_are_refused_unless_preserved() -> None:
    catalog = kind(
        spec_of(
            a={"type": "string"},
            free={"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        )
    )
    assert valid("example.com/v1", "Thing", thing({"a": "x", "free": {"b": 1}}), catalog)
    assert not valid("example.com/v1", "Thing", thing({"a": "x", "b": 1}), catalog)


def test_crd_maps_take_additional_properties() -> None:
    catalog = kind(spec_of(m={"type": "object", "additionalProperties": {"type": "integer"}}))
    assert valid("example.com/v1", "Thing", thing({"m": {"x": 1, "y": 2}}), catalog)
    assert not valid("example.com/v1", "Thing", thing({"m": {"x": "1"}}), catalog)


def test_crd_int_or_string() -> None:
    catalog = kind(
        spec_of(
            port={
                "x-kubernetes-int-or-string": True,
                "anyOf": [{"type": "integer"}, {"type": "string"}],
            }
        )
    )
    for port in (80, "http"):
        assert valid("example.com/v1", "Thing", thing({"port": port}), catalog)
    assert not valid("example.com/v1", "Thing", thing({"port": 1.5}), catalog)


def test_crd_nulls_are_dropped_fields_but_not_list_items() -> None:
    catalog = kind(
        spec_of(
            s={"type": "string"},
            items={"type": "array", "items": {"type": "string"}},
            n={"type": "string", "nullable": True, "enum": ["a"]},
        )
    )
    assert valid("example.com/v1", "Thing", thing({"s": None, "n": None}), catalog)
    assert not valid("example.com/v1", "Thing", thing({"items": [None]}), catalog)


def test_crd_embedded_resources_and_metadata() -> None:
    catalog = kind(
        spec_of(
            template={
                "type": "object",
                "x-kubernetes-embedded-resource": True,
                "properties": {"spec": {"type": "object"}},
            }
        )
    )
    embedded = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {}}
    assert valid("example.com/v1", "Thing", thing({"template": embedded}), catalog)
    assert not valid("example.com/v1", "Thing", thing({}, lables={"a": "b"}), catalog)


def test_crd_formats_and_exclusive_bounds() -> None:
    catalog = kind(
        spec_of(n={"type": "integer", "format": "int32", "minimum": 0, "exclusiveMinimum": True})
    )
    assert valid("example.com/v1", "Thing", thing({"n": 1}), catalog)
    assert not valid("example.com/v1", "Thing", thing({"n": 0}), catalog)
    assert not valid("example.com/v1", "Thing", thing({"n": 2**31}), catalog)


def test_v1beta1_crds_without_pruning_accept_unknown_fields() -> None:
    catalog = kind(spec_of(a={"type": "string"}), prune=False)
    assert valid("example.com/v1", "Thing", thing({"a": "x", "b": 1}), catalog)


def test_crd_versions_that_are_not_served_are_not_known() -> None:
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "spec": {
            "group": "example.com",
            "scope": "Cluster",
            "names": {"kind": "Thing"},
            "versions": [
                {"name": "v1", "served": True, "schema": {"openAPIV3Schema": {"type": "object"}}},
                {"name": "v0", "served": False},
            ],
        },
    }
    [served] = crds.kinds_of(crd)
    assert (served.api_version, served.namespaced, served.prune) == ("example.com/v1", False, True)


def test_bundled_argo_cd_and_flux_schemas_are_found_by_group_and_kind() -> None:
    catalog = schemas.Catalog("1.32")
    assert catalog.knows("argoproj.io/v1alpha1", "Application")
    assert catalog.knows("kustomize.toolkit.fluxcd.io/v1", "Kustomization")
    assert catalog.knows("helm.toolkit.fluxcd.io/v2", "HelmRelease")
    assert not catalog.knows("argoproj.io/v1alpha1", "Nothing")


def test_bundled_schemas_are_what_the_generator_makes(tmp_path: Path) -> None:
    if not SHARED_CRDS.is_dir():
        need(f"{SHARED_CRDS} (the upstream CRDs the bundled schemas come from)")
    script = ROOT / "scripts" / "gen-crd-schemas.py"
    subprocess.run(
        [sys.executable, str(script), str(SHARED_CRDS), str(tmp_path)],
        check=True,
        capture_output=True,
    )
    generated = sorted(p.relative_to(tmp_path) for p in (tmp_path / "crds").rglob("*.json"))
    shipped = sorted(p.relative_to(schemas.BUNDLED.parent) for p in schemas.BUNDLED.rglob("*.json"))
    assert generated == shipped and len(shipped) == 17
    for relative in shipped:
        assert (tmp_path / relative).read_bytes() == (ROOT / "schemas" / relative).read_bytes()
    assert (tmp_path / "SOURCES.txt").read_text() == (ROOT / "schemas" / "SOURCES.txt").read_text()
    assert "Apache License 2.0" in (ROOT / "schemas" / "SOURCES.txt").read_text()
