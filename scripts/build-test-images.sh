#!/usr/bin/env bash
# Builds the test image every backend's tests use, from Debian packages only (no registry):
# a debootstrap minbase of bookworm (has bash and coreutils), imported as
#   docker:           grid-test/debian:bookworm
#   podman:           localhost/grid-test/debian:bookworm
#   local-namespace:  debian:bookworm in /var/lib/grid/test-images (if grid is built)
# The rootfs is cached in /var/cache/grid/rootfs; each import is skipped when present.
#   scripts/build-test-images.sh [BUILD_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"
rootfs=/var/cache/grid/rootfs/debian-bookworm
tarball=/var/cache/grid/rootfs/debian-bookworm.tar

if [ ! -x "$rootfs/bin/bash" ]; then
  echo "build-test-images: debootstrap bookworm into $rootfs" >&2
  rm -rf "$rootfs.partial"
  mkdir -p "$(dirname "$rootfs")"
  debootstrap --variant=minbase bookworm "$rootfs.partial" >/var/log/grid-debootstrap.log 2>&1 \
    || { tail -20 /var/log/grid-debootstrap.log >&2; exit 1; }
  rm -rf "$rootfs"
  mv "$rootfs.partial" "$rootfs"
  rm -f "$tarball"
fi
if [ ! -s "$tarball" ]; then
  tar -C "$rootfs" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
fi

if ! docker image inspect grid-test/debian:bookworm >/dev/null 2>&1; then
  echo "build-test-images: docker import grid-test/debian:bookworm" >&2
  docker import "$tarball" grid-test/debian:bookworm >/dev/null
fi
export CONTAINERS_CONF="$here/ci/containers.conf"
if ! podman image exists localhost/grid-test/debian:bookworm; then
  echo "build-test-images: podman import localhost/grid-test/debian:bookworm" >&2
  podman import "$tarball" localhost/grid-test/debian:bookworm >/dev/null
fi
if [ -x "$build/bin/grid" ] && "$build/bin/grid" image --help >/dev/null 2>&1; then
  if ! "$build/bin/grid" image list --images-dir /var/lib/grid/test-images 2>/dev/null \
      | grep -q '^debian:bookworm'; then
    echo "build-test-images: grid image import debian:bookworm" >&2
    "$build/bin/grid" image import debian:bookworm "$tarball" --images-dir /var/lib/grid/test-images
  fi
fi
echo "build-test-images: test images ready" >&2
