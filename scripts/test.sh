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
    exec python -m pytest -q -m "not slow and not integration and not soak and not secret_service" "$@"
fi
# The real keyring: a private D-Bus session and gnome-keyring, torn down afterwards. Tests marked
# secret_service fail (instead of skipping) when this variable is set and the service is absent.
export SILENTAUTH_REQUIRE_SECRET_SERVICE=1
# keyring discovers every KeyringBackend subclass, test doubles included: name the real one.
export PYTHON_KEYRING_BACKEND=keyring.backends.SecretService.Keyring
exec bash scripts/secret-service.sh run -- python -m pytest -q "$@"
