#!/usr/bin/env bash
# Install everything the tests need (Debian packages for a real Secret Service included, Python
# packages in ./.venv) and run the whole suite: ruff, mypy --strict, pytest.
#
#   scripts/test.sh            the whole suite (what .ci/run calls)
#   scripts/test.sh --quick    the inner loop: lint, types, and the fast tests only (no apt, no
#                              Secret Service, no slow/integration/soak tests)
#   scripts/test.sh -- ARGS    extra pytest arguments (e.g. -- -k ladder)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
if [ "${1:-}" = "--quick" ]; then quick=1; shift; fi
if [ "${1:-}" = "--" ]; then shift; fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    "$PY" -m venv .venv
fi
extra=()
if [ -f tests/integration/requirements.txt ]; then extra=(-r tests/integration/requirements.txt); fi
# pip >= 25.1 reads dependency groups (PEP 735): ruff, mypy and the build tools are the dev
# group in pyproject.toml, not part of the user-facing test extra.
.venv/bin/python -m pip install -q --disable-pip-version-check 'pip>=25.1'
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]' --group dev \
    "${extra[@]}"
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy --strict"
mypy

echo "== pytest"
if [ "$quick" = 1 ]; then
    exec python -m pytest -q -m "not slow and not integration and not soak and not secret_service and not redis" "$@"
fi
# A real Redis for RedisStore (issue 11): each test session starts a private redis-server on a
# loopback port (tests/redisserver.py). Installed only when missing, so parallel runs do not
# fight over the dpkg lock; tests marked redis fail (instead of skipping) without it.
if ! command -v redis-server >/dev/null 2>&1; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
    echo "== installing redis-server (apt log: ${TMPDIR:-/tmp}/redis-apt.log)"
    { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y \
        --no-install-recommends redis-server; } >"${TMPDIR:-/tmp}/redis-apt.log" 2>&1 \
        || { tail -20 "${TMPDIR:-/tmp}/redis-apt.log"; exit 1; }
fi
export SILENTAUTH_REQUIRE_REDIS=1
# The real keyring: a private D-Bus session and gnome-keyring, torn down afterwards. Tests marked
# secret_service fail (instead of skipping) when this variable is set and the service is absent.
export SILENTAUTH_REQUIRE_SECRET_SERVICE=1
# keyring discovers every KeyringBackend subclass, test doubles included: name the real one.
export PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring
exec bash scripts/secret-service.sh run -- python -m pytest -q "$@"
