#!/usr/bin/env bash
# A third-party plugin that throws (tests/core/test_plugins.cc, GRID_TEST_THROWING) costs a
# 500 with a JSON message, never the server; one whose constructor throws stops `grid serve` at
# start-up with a message naming it. GRID_PLUGIN_DIR points at the test plugins.
source "$(dirname "$0")/lib.sh"
: "${GRID_PLUGIN_DIR:?}"
port="$(free_port)"
start_server "$port" "grid-throwing-test-$$" || exit 1
api="http://127.0.0.1:$port"

for image in throw/std throw/other plain; do
  r="$(request POST /sandboxes "{\"image\":\"$image\"}")"; check "$image: create is 201" 201 "${r%% *}"
  id="$(echo "${r#* }" | json 'd["id"]')"
  r="$(request POST "/sandboxes/$id/start")"
  check "$image: start is 500" 500 "${r%% *}"
  check "$image: code internal" internal "$(echo "${r#* }" | json 'd["code"]')"
  check_contains "$image: naming the backend" "backend throwing: " "$(echo "${r#* }" | json 'd["error"]')"
  check "$image: failed" failed "$(request GET "/sandboxes/$id" | cut -d' ' -f2- | json 'd["status"]')"
  r="$(request DELETE "/sandboxes/$id")"; check "$image: delete is 200" 200 "${r%% *}"
done
r="$(request GET /sandboxes/nope)"; check "unknown id still 404" 404 "${r%% *}"
r="$(request GET /healthz)"; check "still healthy" 200 "${r%% *}"
kill -0 "$server_pid" 2>/dev/null; check "server still running" 0 "$?"
stop_server TERM

# A constructor that throws: no server, a non-zero exit, the plugin named.
out="$(grid serve --config "$GRID_TEST_CONFIG" --backend throwingctor --port "$(free_port)" \
  --instance "grid-throwing-test-$$" 2>&1)"
check "throwing constructor: exit status 1" 1 "$?"
check_contains "naming the plugin" "grid-backend-throwingctor.so" "$out"
check_contains "and what it threw" "threw: constructor exploded" "$out"

# A deprecated config name is still read and warned about at start-up, before the plugin loads.
out="$(GRID_SERVER_MAX_SANDBOXES=5 grid serve --config "$GRID_TEST_CONFIG" --backend throwingctor \
  --port "$(free_port)" --instance "grid-throwing-test-$$" 2>&1)"
check_contains "deprecated key warns" "server.max_sandboxes (GRID_SERVER_MAX_SANDBOXES) is deprecated" "$out"
