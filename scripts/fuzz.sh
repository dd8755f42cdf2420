#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang-14 (ASan+UBSan) and runs each for SECONDS
# (default 10; CI uses the default, see docs/security.md for longer runs). Inputs that crashed
# once are kept in fuzz/corpus/<target>/ and replayed on every run.
#   scripts/fuzz.sh [SECONDS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
seconds="${1:-10}"
build="${GRID_FUZZ_BUILD_DIR:-$here/build-fuzz}"
CXX=clang++-14 CC=clang-14 cmake -S "$here" -B "$build" -DGRID_FUZZ=ON -DGRID_BUILD_TESTS=OFF \
  -DGRID_BUILD_BENCH=OFF -DGRID_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target fuzz_api_requests fuzz_session_protocol fuzz_server_config fuzz_archive_paths
status=0
for target in api_requests:requests session_protocol:session_protocol server_config:config \
    archive_paths:archive; do
  name="${target%%:*}"; corpus="$here/fuzz/corpus/${target##*:}"
  work="$(mktemp -d)"
  echo "fuzz: $name for ${seconds}s" >&2
  if ! "$build/bin/fuzz_$name" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
      -artifact_prefix="$work/" "$work" "$corpus" >"$work/log" 2>&1; then
    echo "fuzz: $name FAILED; crashing input kept in $corpus:" >&2
    tail -30 "$work/log" >&2
    cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$corpus/" 2>/dev/null || true
    status=1
  fi
  rm -rf "$work"
done
exit $status
