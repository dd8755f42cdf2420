#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs what is missing, builds,
# starts Docker and Podman, builds the test images, runs every test (unit, conformance against
# each backend, integration through the grid binary), then checks nothing was left behind.
# Run as root. With CI=true a backend test that cannot reach its engine fails instead of
# skipping.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
build="${GRID_BUILD_DIR:-$here/build}"

scripts/install-deps.sh all
# The local-namespace backend's user namespaces need a subordinate id range.
scripts/setup-subids.sh
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGRID_CONFORMANCE_BACKENDS="docker;podman;local-namespace;skeleton" >/dev/null
# Builds everything, installs the SDK into a scratch prefix and builds the out-of-tree skeleton
# backend against it; the conformance suite then runs against that installed-SDK plugin.
GRID_BACKEND_SKELETON_PLUGIN="$(scripts/check-sdk-install.sh "$build" | tail -n 1)"
export GRID_BACKEND_SKELETON_PLUGIN
scripts/start-engines.sh
scripts/build-test-images.sh "$build"

status=0
(cd "$build" && ctest --output-on-failure --timeout 900) || status=$?
# The same suites under AddressSanitizer + UndefinedBehaviorSanitizer, then a short run of each
# libFuzzer harness (crashing inputs found earlier are replayed from fuzz/corpus).
scripts/sanitize.sh || status=1
scripts/fuzz.sh 10 || status=1

scripts/check-leftovers.sh || status=1
exit $status
