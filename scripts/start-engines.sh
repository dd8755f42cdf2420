#!/usr/bin/env bash
# Starts the container engines the backend tests use, if they are not running: dockerd on
# /var/run/docker.sock and the Podman API service on /run/podman/podman.sock. Waits until each
# answers. Podman runs with ci/containers.conf, the settings a host without CAP_SYS_RESOURCE
# and with hybrid cgroups needs (see docs/podman.md).
#
# Both engines get gVisor's runsc as the runtime named "runsc" (isolation = gvisor):
# - Docker through /etc/docker/daemon.json "runtimes". The script writes that file only when
#   there is none; a running dockerd then reloads it on SIGHUP (runtimes are reloadable), so
#   it is never restarted. A dockerd whose own configuration lacks runsc is left alone with a
#   message saying what to add; the gVisor tests then fail naming the missing runtime.
# - Podman through ci/containers.conf [engine.runtimes] (read at service start), for `podman
#   --runtime runsc` and for Podman releases that honour a per-container runtime over their
#   API; Podman 4.3 does not, so Grid's podman backend refuses gvisor there (docs/podman.md).
# On hosts whose PID 1 hides /proc/1/ns/net (Firecracker VMs), runsc's own network stack
# cannot start (it takes every namespace for the host's), so runsc gets --network=host there:
# it then uses the container's network namespace through the host kernel (docs/security.md).
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
# The engine's "Runtimes" as compact JSON (Docker and Podman's compat /info): '"runsc":{...'.
docker_has_runsc() {
  curl -sf --unix-socket /var/run/docker.sock http://localhost/info | grep -q '"runsc":{'
}

runsc=/usr/bin/runsc
runsc_args=()
if ! stat -L /proc/1/ns/net >/dev/null 2>&1; then runsc_args=(--network=host); fi
# Podman's runtime table holds paths only, so flags need a wrapper (first in ci/containers.conf).
mkdir -p /run/grid
if [ ${#runsc_args[@]} -gt 0 ]; then
  printf '#!/bin/sh\n# Written by scripts/start-engines.sh: runsc with the flags this host needs.\nexec %s %s "$@"\n' \
    "$runsc" "${runsc_args[*]}" >/run/grid/runsc.new
  chmod 755 /run/grid/runsc.new
  mv /run/grid/runsc.new /run/grid/runsc
else
  rm -f /run/grid/runsc
fi
docker_runtime_args=""
for arg in "${runsc_args[@]}"; do docker_runtime_args+="${docker_runtime_args:+, }\"$arg\""; done
docker_config=/etc/docker/daemon.json
wrote_docker_config=false
if [ ! -e "$docker_config" ]; then
  mkdir -p /etc/docker
  printf '{\n  "runtimes": {\n    "runsc": {"path": "%s", "runtimeArgs": [%s]}\n  }\n}\n' \
    "$runsc" "$docker_runtime_args" >"$docker_config"
  wrote_docker_config=true
  echo "start-engines: wrote $docker_config registering runsc with dockerd" >&2
fi

if ! docker_up >/dev/null 2>&1; then
  echo "start-engines: starting dockerd" >&2
  nohup dockerd >/var/log/grid-dockerd.log 2>&1 &
  wait_for "dockerd (log: /var/log/grid-dockerd.log)" docker_up
elif ! docker_has_runsc && [ "$wrote_docker_config" = true ] && [ -s /var/run/docker.pid ]; then
  echo "start-engines: dockerd reloads $docker_config (SIGHUP) to register runsc" >&2
  kill -HUP "$(cat /var/run/docker.pid)"
  wait_for "dockerd registering runsc after SIGHUP (log: /var/log/grid-dockerd.log)" \
    docker_has_runsc || true
fi
if ! docker_has_runsc; then
  echo "start-engines: dockerd has no runtime 'runsc', so isolation = gvisor is unsupported" \
    "on Docker: add \"runtimes\": {\"runsc\": {\"path\": \"$runsc\"," \
    "\"runtimeArgs\": [$docker_runtime_args]}} to dockerd's daemon.json and kill -HUP it" >&2
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
