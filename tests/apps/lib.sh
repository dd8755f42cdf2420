# Helpers for the end-to-end scripts: start/stop `grid serve`, assertions, cleanup on exit.
set -uo pipefail
: "${GRID_BIN:?}" "${GRID_TEST_BACKEND:?}" "${GRID_TEST_CONFIG:?}"
export PATH="$GRID_BIN:$PATH"
failures=0
work="$(mktemp -d /tmp/grid-apptest.XXXXXX)"
server_pid=""

test_image() {  # the backend's test_image from the test config
  awk -v section="[backend.$GRID_TEST_BACKEND]" '
    $0 == section { inside = 1; next } /^\[/ { inside = 0 }
    inside && $1 == "test_image" { print $3; exit }' "$GRID_TEST_CONFIG"
}

check() {  # check DESCRIPTION EXPECTED ACTUAL
  if [ "$2" == "$3" ]; then
    echo "ok: $1"
  else
    echo "FAILED: $1"; echo "  expected: $(printf '%q' "$2")"; echo "  actual:   $(printf '%q' "$3")"
    failures=$((failures + 1))
  fi
}

check_contains() {  # check_contains DESCRIPTION NEEDLE HAYSTACK
  if [[ "$3" == *"$2"* ]]; then echo "ok: $1"; else
    echo "FAILED: $1: $(printf '%q' "$2") not in $(printf '%q' "$3")"; failures=$((failures + 1)); fi
}

# request METHOD PATH [BODY] against $api -> "STATUS BODY"; json EXPR: EXPR of the JSON `d` on stdin.
request() {  # request METHOD PATH [BODY] -> "STATUS BODY"
  local body
  body="$(curl -s -o "$work/body" -w '%{http_code}' -X "$1" "$api$2" ${3:+-H 'Content-Type: application/json' --data-binary "$3"})"
  echo "$body $(cat "$work/body")"
}
json() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

start_server() {  # start_server PORT INSTANCE [extra flags]; logs to $work/server.log
  local port="$1" instance="$2"; shift 2
  grid serve --config "$GRID_TEST_CONFIG" --backend "$GRID_TEST_BACKEND" --port "$port" \
    --instance "$instance" "$@" >>"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$server_pid" 2>/dev/null || { echo "server exited:"; tail -20 "$work/server.log"; return 1; }
    sleep 0.1
  done
  echo "server did not answer /healthz"; return 1
}

stop_server() {  # stop_server [SIGNAL]
  [ -n "$server_pid" ] || return 0
  kill "-${1:-TERM}" "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
  server_pid=""
}

finish() {
  stop_server TERM
  if [ "$failures" -gt 0 ]; then
    echo "--- server log"; tail -50 "$work/server.log" 2>/dev/null
    echo "$failures check(s) FAILED"
  fi
  rm -rf "$work"
  [ "$failures" -eq 0 ]
}
# An early `exit N` (e.g. a server that did not start) must fail the test even with no failed check.
trap 's=$?; finish; f=$?; exit $(( s ? s : f ))' EXIT
