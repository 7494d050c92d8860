#!/usr/bin/env bash
# Compile the dependency locks from pyproject.toml: exact versions with hashes.
#   bash scripts/lock.sh            keep every pin, add what pyproject.toml newly asks for
#   bash scripts/lock.sh --upgrade  move every pin to the newest release
#   requirements/runtime.txt  what the package needs to run (the actions install this)
#   requirements/test.txt     the runtime lock plus the test tools (CI installs this)
# Run by hand or by the scheduled lock-refresh workflow; commit the result only when the
# full test suite passes with it.
set -euo pipefail
cd "$(dirname "$0")/.."
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
python3 -m venv "$tools/venv"
"$tools/venv/bin/pip" install -q "uv==0.13.9"
uv="$tools/venv/bin/uv"
common=(--python-version 3.11 --generate-hashes --no-header -q)
[ "${1:-}" = --upgrade ] && common+=(--upgrade)
"$uv" pip compile pyproject.toml "${common[@]}" -o requirements/runtime.txt
"$uv" pip compile pyproject.toml --extra test "${common[@]}" -o requirements/test.txt
echo "lock: $(grep -c '==' requirements/runtime.txt) runtime, $(grep -c '==' requirements/test.txt) test packages"
