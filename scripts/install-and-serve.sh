#!/usr/bin/env bash
# From a fresh Debian 12 machine to a serving Grid, as root: installs the missing Debian
# packages, builds, installs into /usr/local (binary, core library, plugins and grid-init,
# SDK), gives Grid a subordinate uid/gid range (scripts/setup-subids.sh), puts the
# commented grid.ini at /etc/grid/grid.ini if there is none, and runs `grid serve` in the
# foreground on 127.0.0.1:3000 with the local-namespace backend (no daemon, no registry: the
# built-in `host` image works at once). Extra arguments go to `grid serve`.
#   sudo scripts/install-and-serve.sh [--port N] [--backend docker] ...
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
prefix="${GRID_PREFIX:-/usr/local}"
build="${GRID_BUILD_DIR:-$here/build-release}"

scripts/install-deps.sh build
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DGRID_BUILD_TESTS=OFF -DGRID_BUILD_BENCH=OFF \
  >/dev/null
cmake --build "$build" -j "$(nproc)"
cmake --install "$build" --prefix "$prefix" >/dev/null
# local-namespace runs each sandbox in a user namespace on a slice of this range.
scripts/setup-subids.sh
if [ ! -e /etc/grid/grid.ini ]; then
  install -D -m 0644 grid.ini /etc/grid/grid.ini
fi
echo "install-and-serve: installed $prefix/bin/grid; config /etc/grid/grid.ini" >&2
exec "$prefix/bin/grid" serve --config /etc/grid/grid.ini "$@"
