#!/usr/bin/env bash
# Builds the test image every backend's tests use, from Debian packages only (no registry):
# a debootstrap minbase of bookworm (has bash and coreutils) plus the packages below (python3
# and curl, for the background-process tests: an http.server reached from the session; procps
# for `top` on the terminal; iproute2 for the networking tests),
# imported as
#   docker:           grid-test/debian:bookworm
#   podman:           localhost/grid-test/debian:bookworm
#   local-namespace:  debian:bookworm in /var/lib/grid/test-images (if grid is built)
# The rootfs is cached in /var/cache/grid/rootfs; each import is skipped when present and made
# from the same package set. A stamp (the package list) beside the rootfs, a label on the
# docker and podman images and a stamp beside the local-namespace images tell when the set
# changed: then the rootfs is debootstrapped again and every image imported again.
#   scripts/build-test-images.sh [BUILD_DIR]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$here/build}"
rootfs=/var/cache/grid/rootfs/debian-bookworm
tarball=/var/cache/grid/rootfs/debian-bookworm.tar
packages=python3,curl,procps,iproute2  # Debian packages beyond minbase; a change rebuilds everything
stamp="$rootfs.packages"
images_dir=/var/lib/grid/test-images
images_stamp="$images_dir/.debian-bookworm.packages"
label=grid.test-packages

if [ ! -x "$rootfs/bin/bash" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$packages" ]; then
  echo "build-test-images: debootstrap bookworm into $rootfs" >&2
  rm -rf "$rootfs.partial"
  mkdir -p "$(dirname "$rootfs")"
  debootstrap --variant=minbase --include="$packages" bookworm "$rootfs.partial" \
      >/var/log/grid-debootstrap.log 2>&1 \
    || { tail -20 /var/log/grid-debootstrap.log >&2; exit 1; }
  rm -rf "$rootfs"
  mv "$rootfs.partial" "$rootfs"
  rm -f "$tarball"
  echo "$packages" >"$stamp"
fi
if [ ! -s "$tarball" ]; then
  tar -C "$rootfs" -cf "$tarball.partial" . && mv "$tarball.partial" "$tarball"
fi

# The package set an engine's image was imported with ("" when absent or unlabelled).
labelled() {
  "$1" image inspect -f "{{ index .Config.Labels \"$label\" }}" "$2" 2>/dev/null || true
}
if [ "$(labelled docker grid-test/debian:bookworm)" != "$packages" ]; then
  echo "build-test-images: docker import grid-test/debian:bookworm" >&2
  docker import --change "LABEL $label=$packages" "$tarball" grid-test/debian:bookworm >/dev/null
fi
export CONTAINERS_CONF="$here/ci/containers.conf"
if [ "$(labelled podman localhost/grid-test/debian:bookworm)" != "$packages" ]; then
  echo "build-test-images: podman import localhost/grid-test/debian:bookworm" >&2
  podman import --quiet --change "LABEL $label=$packages" "$tarball" \
    localhost/grid-test/debian:bookworm >/dev/null
fi
if [ -x "$build/bin/grid" ] && "$build/bin/grid" image --help >/dev/null 2>&1; then
  if ! "$build/bin/grid" image list --images-dir "$images_dir" 2>/dev/null \
      | grep -q '^debian:bookworm' || [ "$(cat "$images_stamp" 2>/dev/null)" != "$packages" ]; then
    echo "build-test-images: grid image import debian:bookworm" >&2
    "$build/bin/grid" image import debian:bookworm "$tarball" --images-dir "$images_dir"
    echo "$packages" >"$images_stamp"
  fi
fi
echo "build-test-images: test images ready" >&2
