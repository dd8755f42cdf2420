#!/usr/bin/env bash
# Builds the core, the docker and local-namespace plugins and the test suites with
# AddressSanitizer + UndefinedBehaviorSanitizer, then runs the core unit tests, the backend
# conformance suite against docker and local-namespace, and the HTTP end-to-end tests (a
# sanitized `grid serve`) under them. Any report fails.
#   scripts/sanitize.sh    (engines and test images must be ready: scripts/start-engines.sh,
#                           scripts/build-test-images.sh)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GRID_ASAN_BUILD_DIR:-$here/build-asan}"
cmake -S "$here" -B "$build" -DGRID_SANITIZE=ON -DGRID_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target core_tests grid-conformance-tests grid \
  grid-backend-docker grid-backend-local-namespace grid-backend-loadertest grid-backend-wrongsdk
# A small quarantine: the fault suite asserts the server's peak RSS stays bounded, and ASan's
# default 256 MiB of held-back frees would count against it.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:quarantine_size_mb=16"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
status=0
"$build/bin/core_tests" || status=1
for backend in docker local-namespace; do
  "$build/bin/grid-conformance-tests" --backend "$backend" \
    --config "$here/tests/conformance/grid-test.ini" || status=1
done
# The server runs in the background of these scripts: its reports go to files.
reports="$(mktemp -d /tmp/grid-sanitize.XXXXXX)"
for script in api_contract_test.sh slow_clients_test.sh; do
  ASAN_OPTIONS="$ASAN_OPTIONS:log_path=$reports/asan" UBSAN_OPTIONS="$UBSAN_OPTIONS:log_path=$reports/ubsan" \
    GRID_BIN="$build/bin" GRID_TEST_BACKEND=local-namespace \
    GRID_TEST_CONFIG="$here/tests/conformance/grid-test.ini" \
    bash "$here/tests/apps/$script" >"$reports/$script.log" 2>&1 || {
    status=1
    echo "sanitize: $script failed:" >&2
    tail -30 "$reports/$script.log" >&2
  }
done
for report in "$reports"/asan* "$reports"/ubsan*; do
  [ -e "$report" ] || continue
  status=1
  echo "sanitize: report $report:" >&2
  cat "$report" >&2
done
rm -rf "$reports"
if [ $status -eq 0 ]; then echo "sanitize: clean" >&2; else echo "sanitize: FAILED" >&2; fi
exit $status
