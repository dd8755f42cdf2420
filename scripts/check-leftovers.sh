#!/usr/bin/env bash
# Fails if any Grid sandbox outlived the tests: containers labelled grid.managed-by=grid in
# Docker or Podman, overlay mounts or cgroups of the local-namespace backend.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
left=""
if docker info >/dev/null 2>&1; then
  n=$(docker ps -aq --filter label=grid.managed-by=grid | wc -l)
  [ "$n" -gt 0 ] && left="$left docker containers: $n;"
fi
if command -v podman >/dev/null 2>&1; then
  n=$(CONTAINERS_CONF="$here/ci/containers.conf" podman ps -aq --filter label=grid.managed-by=grid 2>/dev/null | wc -l)
  [ "$n" -gt 0 ] && left="$left podman containers: $n;"
fi
n=$(grep -c '/grid' /proc/mounts || true)
[ "$n" -gt 0 ] && left="$left mounts under grid dirs: $n;"
n=$(find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d -name 'grid*' 2>/dev/null | while read -r d; do
      find "$d" -mindepth 1 -type d; done | wc -l)
[ "$n" -gt 0 ] && left="$left sandbox cgroups: $n;"
if [ -n "$left" ]; then
  echo "check-leftovers: FAILED, left behind:$left" >&2
  exit 1
fi
echo "check-leftovers: nothing left behind" >&2
