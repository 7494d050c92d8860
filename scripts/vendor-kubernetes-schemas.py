#!/usr/bin/env python3
"""Copy the Kubernetes OpenAPI definitions validate needs into gitops_actions/schemas/kubernetes/.

    .venv/bin/python scripts/vendor-kubernetes-schemas.py

Reads them from the installed kubernetes-validate package (a test dependency; Apache
License 2.0): for each release from schemas.OLDEST to schemas.NEWEST its
``v1.N.0-local/_definitions.json``, unchanged, gzip-compressed as ``v1.N.json.gz``. The output
is deterministic (no timestamps), so a test can compare it with the package's files. The
runtime then needs neither that package (108 MB) nor the jsonschema stack it pulls in.
"""

from __future__ import annotations

import gzip
import importlib.util
import sys
from pathlib import Path

from gitops_actions.validate import schemas


def source_dir() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("kubernetes-validate is not installed (pip install kubernetes-validate)")
    return Path(next(iter(spec.submodule_search_locations))) / "kubernetes-json-schema"


def compressed(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=9, mtime=0)


def main() -> int:
    source = source_dir()
    schemas.KUBERNETES.mkdir(parents=True, exist_ok=True)
    for minor in range(schemas.OLDEST[1], schemas.NEWEST[1] + 1):
        data = (source / f"v1.{minor}.0-local" / "_definitions.json").read_bytes()
        (schemas.KUBERNETES / f"v1.{minor}.json.gz").write_bytes(compressed(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
