#!/usr/bin/env bash
# SIGKILL the server with live sandboxes, restart it: the orphans are removed at startup (and
# logged), over several cycles. SIGTERM removes every sandbox before exit.
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
port="$(free_port)"
instance="grid-crash-test-$$"

start_two() {
  local ids="" id
  for _ in 1 2; do
    id="$(curl -sf -X POST "http://127.0.0.1:$port/sandboxes" -d "{\"image\":\"$IMAGE\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
    curl -sf -X POST "http://127.0.0.1:$port/sandboxes/$id/start" >/dev/null || echo "start of $id failed"
    curl -sf -X POST "http://127.0.0.1:$port/sandboxes/$id/exec" -d '{"command":"sleep 1000 &"}' >/dev/null
    ids="$ids $id"
  done
  echo "$ids"
}

for cycle in 1 2 3; do
  start_server "$port" "$instance" || exit 1
  ids="$(start_two)"
  stop_server KILL
  : > "$work/server.log"
  start_server "$port" "$instance" || exit 1
  for id in $ids; do
    check_contains "cycle $cycle: orphan $id removed at restart" "removed sandbox $id" "$(cat "$work/server.log")"
  done
  if [ "$GRID_TEST_BACKEND" = docker ]; then
    check "cycle $cycle: no container of the instance left" 0 \
      "$(docker ps -aq --filter "label=grid.instance=$instance" | wc -l)"
  fi
  stop_server TERM
done

start_server "$port" "$instance" || exit 1
ids="$(start_two)"
stop_server TERM
check_contains "SIGTERM removes the sandboxes" "removing 2 sandboxes" "$(cat "$work/server.log")"
: > "$work/server.log"
start_server "$port" "$instance" || exit 1
check "nothing left after SIGTERM" "" "$(grep 'left behind' "$work/server.log")"
