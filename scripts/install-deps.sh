#!/usr/bin/env bash
# Installs what Grid needs from Debian packages (nothing else is fetched), skipping what is
# already there.
#   scripts/install-deps.sh build    compilers and libraries to build grid
#   scripts/install-deps.sh engines  Docker Engine, Podman, gVisor (runsc), debootstrap (for
#                                    backends and tests)
#   scripts/install-deps.sh all      both, plus test tooling
set -euo pipefail

build_packages=(build-essential cmake pkg-config libpoco-dev libcli11-dev libspdlog-dev
  libarchive-dev libseccomp-dev libcap-dev libgtest-dev libgmock-dev libbenchmark-dev)
engine_packages=(docker.io podman runsc uidmap iproute2 nftables debootstrap busybox-static curl
  ca-certificates)
test_packages=(clang-14 libclang-rt-14-dev procps bubblewrap python3 chromium tmux
  python3-httpx python3-pytest python3-pytest-asyncio)  # the last three: python/tests

case "${1:-all}" in
  build) wanted=("${build_packages[@]}") ;;
  engines) wanted=("${engine_packages[@]}") ;;
  all) wanted=("${build_packages[@]}" "${engine_packages[@]}" "${test_packages[@]}") ;;
  *) echo "usage: $0 build|engines|all" >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$package")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed" >&2
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing ${missing[*]}; run as root (sudo $0 ${1:-all})" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
