#!/usr/bin/env bash
# Proves a third party can build a backend against the installed Grid SDK: builds Grid in BUILD
# (default: build), installs it into a throwaway prefix, then builds examples/backend-skeleton
# out of tree with find_package(Grid) from that prefix alone.
#
# Usage: scripts/check-sdk-install.sh [BUILD_DIR]
# The last stdout line is the absolute path of the built grid-backend-skeleton.so; progress goes
# to stderr. The install prefix is BUILD/sdk-check/prefix, wiped on every run. It lives under
# BUILD rather than in mktemp so it outlives the script: the printed plugin's RUNPATH points at it.
set -euo pipefail

src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="$(realpath -m "${1:-build}")"
jobs="${GRID_JOBS:-$(nproc)}"
prefix="${build}/sdk-check/prefix"
skel_build="${build}/sdk-check/skeleton"

log() { echo "check-sdk-install: $*" >&2; }

log "configuring and building ${src} in ${build}"
cmake -S "${src}" -B "${build}" >&2
cmake --build "${build}" -j "${jobs}" >&2

log "installing into ${prefix}"
rm -rf "${prefix}"
cmake --install "${build}" --prefix "${prefix}" >&2

# A fresh build dir each time: a cached Grid_DIR from an earlier prefix must not be reused.
log "building examples/backend-skeleton against ${prefix}"
rm -rf "${skel_build}"
cmake -S "${src}/examples/backend-skeleton" -B "${skel_build}" \
  -DCMAKE_PREFIX_PATH="${prefix}" -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >&2
# Guard against a Grid installed elsewhere on the machine being found instead.
grep -q "^Grid_DIR:PATH=${prefix}/" "${skel_build}/CMakeCache.txt" ||
  { log "find_package(Grid) did not use ${prefix}"; exit 1; }
cmake --build "${skel_build}" -j "${jobs}" >&2

plugin="${skel_build}/grid-backend-skeleton.so"
[[ -f "${plugin}" ]] || { log "missing ${plugin}"; exit 1; }
# Symbols are hidden by default; the loader's two entry points must still be exported.
for symbol in gridPluginSdkVersion pocoBuildManifest; do
  nm -D --defined-only "${plugin}" | grep -qw "${symbol}" || { log "${symbol} not exported"; exit 1; }
done
log "ok"
echo "${plugin}"
