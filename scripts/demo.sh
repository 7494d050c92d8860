#!/usr/bin/env bash
# The whole pipeline on the bundled example repos, with local stand-ins.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/gitops-actions demo "$@"
