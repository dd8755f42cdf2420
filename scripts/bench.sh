#!/usr/bin/env bash
# Builds and runs the benchmark suite (bench/), then prints Grid next to its baselines as
# markdown tables with ratios and the performance targets. Run as root with dockerd and the
# podman service up (scripts/start-engines.sh) and the test images built
# (scripts/build-test-images.sh); a backend whose engine or plugin is missing is skipped.
#   scripts/bench.sh [BUILD_DIR] [grid_bench flags, e.g. --benchmark_filter=exec/]
# Raw results: BUILD_DIR/bench-results.json. Takes < 10 minutes on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${GRID_BUILD_DIR:-$here/build}"
if [ $# -gt 0 ] && [[ "$1" != -* ]]; then
  build="$1"
  shift
fi

# bwrap is one of the local-namespace baselines.
if ! command -v bwrap >/dev/null 2>&1; then
  apt-get install -y bubblewrap >/dev/null
fi

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
# grid_bench depends on grid and every backend plugin; make rebuilds only what changed.
make -C "$build" -j"$(nproc)" grid_bench >/dev/null

results="$build/bench-results.json"
status=0
"$build/bin/grid_bench" --benchmark_out="$results" --benchmark_out_format=json "$@" || status=$?
python3 "$here/bench/report.py" "$results"
exit "$status"
