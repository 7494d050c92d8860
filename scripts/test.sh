#!/usr/bin/env bash
# The full test suite: lint, types, and every test. With CI=true, tests that need a real
# component (Docker engine, registry, git smart-HTTP server, kubectl) fail instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
echo "== ruff"
.venv/bin/ruff check gitops_actions tests bench
.venv/bin/ruff format --check gitops_actions tests bench
echo "== mypy (strict on the package)"
.venv/bin/mypy
echo "== pytest"
exec .venv/bin/pytest "$@"
