#!/usr/bin/env bash
# Runs the Python SDK's tests (pytest) against a real `grid serve`; ctest's entry `python.sdk`.
# Uses Debian's python3 (python3-httpx, python3-pytest, python3-pytest-asyncio; installed by
# scripts/install-deps.sh). Without them the run is skipped (exit 77), or fails with CI=true.
#   GRID_BIN=build/bin GRID_TEST_BACKEND=local-namespace python/tests/run-tests.sh [PYTEST ARGS]
# PYTEST ARGS default to the whole suite (tests); paths are relative to python/.
set -uo pipefail
python_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${GRID_PYTHON:-/usr/bin/python3}"
if ! "$python" -c 'import httpx, pytest, pytest_asyncio' 2>/dev/null; then
  message="$python lacks httpx, pytest or pytest_asyncio (scripts/install-deps.sh all installs python3-httpx, python3-pytest, python3-pytest-asyncio)"
  if [ "${CI:-}" = true ]; then echo "FAILED: $message"; exit 1; fi
  echo "SKIPPED: $message"
  exit 77
fi
cd "$python_dir" || exit 1
PYTHONPATH="$python_dir${PYTHONPATH:+:$PYTHONPATH}" exec "$python" -m pytest -p no:cacheprovider \
  -rs -v "${@:-tests}"
