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
    exec python -m pytest -q -m "not slow and not integration and not soak and not secret_service and not redis and not browser" "$@"
fi
# Real services for the full run, each installed from Debian only when missing (a warm machine
# costs a few `command -v`, and parallel runs do not fight over the dpkg lock):
# - redis-server: RedisStore (issue 11); each test session starts a private one on a loopback
#   port (tests/redisserver.py);
# - chromium + chromium-driver: the browser logins (issue 8), driven headless by selenium.
# Tests marked redis or browser fail (instead of skipping) without them in this run.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo -n"; fi
    log="${TMPDIR:-/tmp}/silentauth-apt.log"
    echo "== installing ${missing[*]} (apt log: $log)"
    { $sudo apt-get update && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"; } \
        >"$log" 2>&1 || { tail -20 "$log"; exit 1; }
fi
export SILENTAUTH_REQUIRE_REDIS=1 SILENTAUTH_REQUIRE_BROWSER=1
# The real keyring: a private D-Bus session and gnome-keyring, torn down afterwards. Tests marked
# secret_service fail (instead of skipping) when this variable is set and the service is absent.
export SILENTAUTH_REQUIRE_SECRET_SERVICE=1
# keyring discovers every KeyringBackend subclass, test doubles included: name the real one.
export PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring
exec bash scripts/secret-service.sh run -- python -m pytest -q "$@"
