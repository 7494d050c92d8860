#!/usr/bin/env bash
# The whole pipeline on the bundled example repos, with local stand-ins.
# Package installation goes to a log file; the demo itself tells what each step did.
set -euo pipefail
cd "$(dirname "$0")/.."
log="$(mktemp "${TMPDIR:-/tmp}/gitops-demo-setup.XXXXXX")"
printf 'demo: installing packages (log: %s) ... ' "$log"
if ! bash scripts/setup.sh >"$log" 2>&1; then
  echo "failed; the end of the log:"
  tail -n 20 "$log"
  exit 1
fi
echo "done"
exec .venv/bin/gitops-actions demo "$@"
