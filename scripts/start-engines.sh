#!/usr/bin/env bash
# Starts the container engines the backend tests use, if they are not running: dockerd on
# /var/run/docker.sock, the Podman API service on /run/podman/podman.sock and a second Podman
# API service for gVisor on /run/podman/podman-gvisor.sock. Waits until each answers. Podman
# runs with ci/containers.conf, the settings a host without CAP_SYS_RESOURCE and with hybrid
# cgroups needs (see docs/podman.md). Running engines are never stopped or restarted.
#
# Both engines get gVisor's runsc as the runtime named "runsc" (isolation = gvisor), always
# with --oci-seccomp so that the sandbox's seccomp profile (Grid's allow list) is enforced
# inside gVisor too (runsc ignores it otherwise):
# - Docker through /etc/docker/daemon.json "runtimes". The script writes that file when there
#   is none, and rewrites it only when it is one the script itself wrote (its content is what
#   some version of this script renders) but with other flags; a running dockerd then reloads
#   it on SIGHUP (runtimes are reloadable), so it is never restarted. A daemon.json written by
#   anyone else is never touched: the script prints what to add, and the gVisor tests then
#   fail naming the missing runtime.
# - Podman through a second service (ci/containers-gvisor.conf) whose default runtime is runsc:
#   Podman 4.3 ignores a per-container runtime sent over its API (docs/podman.md, "gVisor").
#   It shares the main service's container storage and state. ci/containers.conf registers
#   runsc too, so each service can stop and remove the other's containers.
# Podman's runtime table holds paths only, so the flags go into a wrapper, /run/grid/runsc.
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
podman_gvisor_up() {
  curl -sf --unix-socket /run/podman/podman-gvisor.sock http://localhost/_ping
}
# The engine's "Runtimes" as compact JSON (Docker and Podman's compat /info): '"runsc":{...'.
docker_has_runsc() {
  curl -sf --unix-socket /var/run/docker.sock http://localhost/info | grep -q '"runsc":{'
}

runsc=/usr/bin/runsc
network_args=()
if ! stat -L /proc/1/ns/net >/dev/null 2>&1; then network_args=(--network=host); fi
runsc_args=("${network_args[@]}" --oci-seccomp)
mkdir -p /run/grid
printf '#!/bin/sh\n# Written by scripts/start-engines.sh: runsc with the flags Grid needs.\nexec %s %s "$@"\n' \
  "$runsc" "${runsc_args[*]}" >/run/grid/runsc.new
chmod 755 /run/grid/runsc.new
mv /run/grid/runsc.new /run/grid/runsc

json_args() {  # json_args ARG... -> "a", "b"
  local out="" arg
  for arg in "$@"; do out+="${out:+, }\"$arg\""; done
  printf '%s' "$out"
}
docker_config_for() {  # docker_config_for ARG... -> the daemon.json this script writes
  printf '{\n  "runtimes": {\n    "runsc": {"path": "%s", "runtimeArgs": [%s]}\n  }\n}\n' \
    "$runsc" "$(json_args "$@")"
}
docker_runtime_args="$(json_args "${runsc_args[@]}")"
docker_config=/etc/docker/daemon.json
wanted_docker_config="$(docker_config_for "${runsc_args[@]}")"
# Whether daemon.json is one this script wrote: what it renders now, or rendered before
# --oci-seccomp was added, with or without --network=host. Anything else is someone else's.
docker_config_is_ours() {
  local current candidate
  current="$(cat "$docker_config")" || return 1
  for candidate in "$(docker_config_for)" "$(docker_config_for --network=host)" \
      "$(docker_config_for --oci-seccomp)" "$(docker_config_for --network=host --oci-seccomp)"; do
    [ "$current" = "$candidate" ] && return 0
  done
  return 1
}
docker_has_wanted_runsc() {  # dockerd lists runsc with exactly the wanted arguments
  curl -sf --unix-socket /var/run/docker.sock http://localhost/info |
    python3 -c 'import json,sys
r = json.load(sys.stdin).get("Runtimes", {}).get("runsc")
sys.exit(0 if r and r.get("runtimeArgs", []) == sys.argv[1:] else 1)' "${runsc_args[@]}"
}
wrote_docker_config=false
if [ ! -e "$docker_config" ] ||
    { docker_config_is_ours && [ "$(cat "$docker_config")" != "$wanted_docker_config" ]; }; then
  mkdir -p /etc/docker
  printf '%s\n' "$wanted_docker_config" >"$docker_config.new"
  mv "$docker_config.new" "$docker_config"
  wrote_docker_config=true
  echo "start-engines: wrote $docker_config registering runsc ($docker_runtime_args) with dockerd" >&2
fi

if ! docker_up >/dev/null 2>&1; then
  echo "start-engines: starting dockerd" >&2
  nohup dockerd >/var/log/grid-dockerd.log 2>&1 &
  wait_for "dockerd (log: /var/log/grid-dockerd.log)" docker_up
elif ! docker_has_wanted_runsc && [ "$wrote_docker_config" = true ] &&
    [ -s /var/run/docker.pid ]; then
  echo "start-engines: dockerd reloads $docker_config (SIGHUP) to register runsc" >&2
  kill -HUP "$(cat /var/run/docker.pid)"
  wait_for "dockerd registering runsc after SIGHUP (log: /var/log/grid-dockerd.log)" \
    docker_has_wanted_runsc || true
fi
if ! docker_has_runsc; then
  echo "start-engines: dockerd has no runtime 'runsc', so isolation = gvisor is unsupported" \
    "on Docker: add \"runtimes\": {\"runsc\": {\"path\": \"$runsc\"," \
    "\"runtimeArgs\": [$docker_runtime_args]}} to dockerd's daemon.json and kill -HUP it" >&2
elif ! docker_has_wanted_runsc; then
  echo "start-engines: dockerd's runtime 'runsc' lacks the arguments [$docker_runtime_args]" \
    "(without --oci-seccomp gVisor ignores Grid's seccomp profile): $docker_config is not" \
    "this script's, so fix it there and kill -HUP dockerd" >&2
fi

if ! podman_up >/dev/null 2>&1; then
  echo "start-engines: starting podman system service" >&2
  mkdir -p /run/podman
  cd /run/podman
  CONTAINERS_CONF="$here/ci/containers.conf" nohup podman system service --time=0 \
    unix:///run/podman/podman.sock >/var/log/grid-podman.log 2>&1 &
  wait_for "podman service (log: /var/log/grid-podman.log)" podman_up
  cd /
fi
if ! podman_gvisor_up >/dev/null 2>&1; then
  echo "start-engines: starting the gVisor podman system service" >&2
  mkdir -p /run/podman
  cd /run/podman
  CONTAINERS_CONF="$here/ci/containers-gvisor.conf" nohup podman system service --time=0 \
    unix:///run/podman/podman-gvisor.sock >/var/log/grid-podman-gvisor.log 2>&1 &
  wait_for "gVisor podman service (log: /var/log/grid-podman-gvisor.log)" podman_gvisor_up
  cd /
fi
echo "start-engines: docker, podman and podman (gVisor) are up" >&2
