#!/usr/bin/env bash
# Starts the container engines the backend tests use, if they are not running: dockerd on
# /var/run/docker.sock and the Podman API service on /run/podman/podman.sock. Waits until each
# answers. Podman runs with ci/containers.conf, the settings a host without CAP_SYS_RESOURCE
# and with hybrid cgroups needs (see docs/podman.md).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Daemons never run from the checkout: conmon drops an "oom" marker file into its working
# directory when a process of an exec session is OOM-killed.
cd /

wait_for() {  # wait_for DESCRIPTION COMMAND...
  local what="$1"; shift
  for _ in $(seq 1 120); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.5
  done
  echo "start-engines: $what did not come up" >&2
  return 1
}

docker_up() { curl -sf --unix-socket /var/run/docker.sock http://localhost/_ping; }
podman_up() { curl -sf --unix-socket /run/podman/podman.sock http://localhost/_ping; }

if ! docker_up >/dev/null 2>&1; then
  echo "start-engines: starting dockerd" >&2
  nohup dockerd >/var/log/grid-dockerd.log 2>&1 &
  wait_for "dockerd (log: /var/log/grid-dockerd.log)" docker_up
fi

if ! podman_up >/dev/null 2>&1; then
  echo "start-engines: starting podman system service" >&2
  mkdir -p /run/podman
  cd /run/podman
  CONTAINERS_CONF="$here/ci/containers.conf" nohup podman system service --time=0 \
    unix:///run/podman/podman.sock >/var/log/grid-podman.log 2>&1 &
  wait_for "podman service (log: /var/log/grid-podman.log)" podman_up
fi
echo "start-engines: docker and podman are up" >&2
