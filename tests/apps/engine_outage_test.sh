#!/usr/bin/env bash
# Engine outage (podman): the Podman API service dies with an exec in flight. The exec must
# answer a 5xx JSON error long before its timeout, the
# server must stay up, calls made while the engine is down must fail fast with 503, and once
# the service is back (started exactly as scripts/start-engines.sh starts it) new sandboxes
# must work and nothing may be left behind.
#
# The test runs its own `podman system service` on a private socket, sharing the host's
# container storage, and points the server at it (GRID_BACKEND_PODMAN_SOCKET). Killing the
# shared service at /run/podman/podman.sock instead would break every other podman client on
# the machine (other tests, a parallel ctest -j) for the duration of the outage.
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
repo="$(cd "$(dirname "$0")/../.." && pwd)"
export CONTAINERS_CONF="$repo/ci/containers.conf"
socket="$work/podman.sock"
service_pid=""
port="$(free_port)"
instance="grid-outage-test-$$"
api="http://127.0.0.1:$port"

command -v podman >/dev/null || { echo "FAILED: podman is not installed"; failures=1; exit 1; }

podman_up() { curl -sf --unix-socket "$socket" http://localhost/_ping >/dev/null 2>&1; }

start_service() {  # as scripts/start-engines.sh does, on the private socket
  nohup podman system service --time=0 "unix://$socket" >>"$work/podman.log" 2>&1 &
  service_pid=$!
  for _ in $(seq 1 120); do
    podman_up && return 0
    kill -0 "$service_pid" 2>/dev/null || break
    sleep 0.5
  done
  echo "FAILED: podman service did not come up:"; tail -20 "$work/podman.log"
  return 1
}

stop_service() {
  [ -n "$service_pid" ] || return 0
  kill "$service_pid" 2>/dev/null
  wait "$service_pid" 2>/dev/null
  service_pid=""
}

cleanup() {
  # The server first (it removes its sandboxes through the service), then the service.
  stop_server TERM
  stop_service
  # Whatever the outcome, no container of this instance may outlive the test.
  podman ps -aq --filter "label=grid.instance=$instance" | xargs -r podman rm -f -t 0 >/dev/null 2>&1
  finish
}
trap 'cleanup; exit $?' EXIT

request() {  # request METHOD PATH [BODY] -> "STATUS BODY"
  local code
  code="$(curl -s --max-time 120 -o "$work/body" -w '%{http_code}' -X "$1" "$api$2" \
    ${3:+-H 'Content-Type: application/json' --data-binary "$3"})"
  echo "$code $(cat "$work/body" 2>/dev/null)"
}
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
new_sandbox() {  # -> id of a created and started sandbox, or nothing
  local r id
  r="$(request POST /sandboxes "{\"image\":\"$IMAGE\"}")"
  id="$(echo "${r#* }" | json 'd["id"]' 2>/dev/null)"
  r="$(request POST "/sandboxes/$id/start")"
  [ "${r%% *}" = 200 ] && echo "$id" || echo "start failed: $r" >&2
}
host_processes() {  # host processes whose command line is exactly "$@"
  python3 - "$@" <<'PY'
import os, sys
wanted = ("\0".join(sys.argv[1:]) + "\0").encode()
n = 0
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            n += f.read() == wanted
    except OSError:
        pass
print(n)
PY
}

# An early exit must fail the test (lib.sh's finish only counts checks).
start_service || { failures=$((failures + 1)); exit 1; }
export GRID_BACKEND_PODMAN_SOCKET="$socket"
start_server "$port" "$instance" || { failures=$((failures + 1)); exit 1; }

id="$(new_sandbox)"
check "sandbox started" 36 "${#id}"
r="$(request POST "/sandboxes/$id/exec" '{"command":"echo ready"}')"
check "exec before the outage" "ready" "$(echo "${r#* }" | json 'd["output"].strip()')"

# The in-flight exec: a sleep with a unique duration so the host can see it running.
duration="30.$(printf '%06d' $((RANDOM * 32768 + RANDOM)))"
( curl -s --max-time 50 -o "$work/inflight.body" -w '%{http_code}' -X POST "$api/sandboxes/$id/exec" \
    -H 'Content-Type: application/json' \
    --data-binary "{\"command\":\"sleep $duration\",\"timeout\":60}" > "$work/inflight.code" ) &
inflight=$!
for _ in $(seq 1 300); do
  [ "$(host_processes sleep "$duration")" -ge 1 ] && break
  sleep 0.1
done
check "the exec is in flight" 1 "$(host_processes sleep "$duration")"

kill -KILL "$service_pid"
wait "$service_pid" 2>/dev/null
service_pid=""
check "the podman service is down" 1 "$(podman_up && echo 0 || echo 1)"

wait "$inflight"
code="$(cat "$work/inflight.code")"
body="$(cat "$work/inflight.body")"
echo "in-flight exec answered $code: $body"
# A natural end of the sleep would be 200 with exit_code 0; a timeout would say timed_out.
verdict="$(echo "$body" | python3 -c '
import json, sys
code = int(sys.argv[1])
try:
    d = json.load(sys.stdin)
except ValueError:
    print("not JSON"); sys.exit()
if 500 <= code < 600:
    print("ok" if d.get("error") and d.get("code") else "5xx without error/code")
else:
    print(f"status {code}, not a 5xx")' "${code:-0}")"
check "the in-flight exec answered the outage, before its timeout" ok "$verdict"
check "healthz during the outage" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$api/healthz")"

r="$(request POST /sandboxes "{\"image\":\"$IMAGE\"}")"
check "create during the outage (no engine call)" 201 "${r%% *}"
down_id="$(echo "${r#* }" | json 'd["id"]')"
r="$(request POST "/sandboxes/$down_id/start")"
check "start during the outage is 503" 503 "${r%% *}"
check "with a JSON error" unavailable "$(echo "${r#* }" | json 'd["code"]' 2>/dev/null)"
r="$(request DELETE "/sandboxes/$down_id")"; check "delete of the failed sandbox" 200 "${r%% *}"
check "healthz after failed calls" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$api/healthz")"

start_service || { failures=$((failures + 1)); exit 1; }
check "the server survived the outage" 0 "$(kill -0 "$server_pid" 2>/dev/null; echo $?)"

fresh="$(new_sandbox)"
check "a new sandbox starts after the restart" 36 "${#fresh}"
r="$(request POST "/sandboxes/$fresh/exec" '{"command":"cd /tmp; echo fresh $PWD"}')"
check "and execs" "200 fresh /tmp" "${r%% *} $(echo "${r#* }" | json 'd["output"].strip()' 2>/dev/null)"
r="$(request POST "/sandboxes/$fresh/exec" '{"command":"echo $PWD"}')"
check "with a working session" "/tmp" "$(echo "${r#* }" | json 'd["output"].strip()' 2>/dev/null)"
# The old sandbox's container outlived the service (conmon keeps it): standalone execs reach it.
r="$(request POST "/sandboxes/$id/exec" '{"command":"echo back","standalone":true}')"
check "the old sandbox still takes standalone execs" "200 back" \
  "${r%% *} $(echo "${r#* }" | json 'd["stdout"].strip()' 2>/dev/null)"

for s in "$id" "$fresh"; do
  r="$(request DELETE "/sandboxes/$s")"; check "delete $s" 200 "${r%% *}"
done
r="$(request GET /sandboxes)"; check "no sandbox left in the server" "200 []" "$(echo "$r" | tr -d '\n')"
check "no container of the instance left" 0 \
  "$(podman ps -aq --filter "label=grid.instance=$instance" | wc -l)"
check "the in-flight sleep did not survive its sandbox" 0 "$(host_processes sleep "$duration")"
check "the shared podman service is untouched" OK \
  "$(curl -s --unix-socket /run/podman/podman.sock http://localhost/_ping)"
