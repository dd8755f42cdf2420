#!/usr/bin/env bash
# The README's reference workflow, verbatim, through the grid CLI (port 3000 as written).
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
cd "$work"
export GRID_BACKEND="$GRID_TEST_BACKEND" GRID_INSTANCE=grid-workflow-test-$$
cp "$GRID_TEST_CONFIG" grid.ini

grid serve --port 3000 > server.log 2>&1 &
server_pid=$!
for _ in $(seq 1 600); do curl -sf http://127.0.0.1:3000/healthz >/dev/null && break; sleep 0.1; done

ID=$(grid sandbox create --image $IMAGE | grep "Sandbox created" | cut -d' ' -f5)
check "create printed an id" 36 "${#ID}"
grid sandbox start $ID
grid sandbox exec $ID "cd /tmp"
check "cwd persists" "/tmp" "$(grid sandbox exec $ID "echo \$PWD")"
grid sandbox exec $ID "echo 'Hello World' > test.txt"
check "file written in cwd" "Hello World" "$(grid sandbox exec $ID "cat test.txt")"

# Live output: the CLI prints "ready" while the command still runs (it would sleep 30 s more);
# the CLI going away (SIGTERM: a background job of a script ignores SIGINT) interrupts the
# command, and the session serves the next exec.
grid sandbox exec $ID "echo ready; sleep 30; echo finished" > live.out 2>&1 &
cli_pid=$!
for _ in $(seq 1 400); do grep -q ready live.out 2>/dev/null && break; sleep 0.05; done
check "exec prints output as it arrives" "ready" "$(cat live.out)"
kill -TERM $cli_pid; wait $cli_pid
check "the session serves after the client went away" "/tmp" "$(grid sandbox exec $ID "echo \$PWD")"
check_contains "the trajectory says interrupted" "[interrupted" "$(grid sandbox trajectory $ID)"
grid sandbox exec --standalone $ID "echo out; echo err >&2; exit 5" > split.out 2> split.err
check "standalone exec exits with the command's status" 5 "$?"
check "stdout to stdout" "out" "$(cat split.out)"
check "stderr to stderr" "err" "$(cat split.err)"
check "--json keeps the whole result" "5" \
  "$(grid sandbox --json exec --standalone $ID "exit 5" | python3 -c 'import json,sys; print(json.load(sys.stdin)["exit_code"])')"

# Beyond the verbatim steps: exit status, errors and listing through the CLI.
grid sandbox exec $ID "exit 3" >/dev/null 2>&1
check "exec exits with the command's status" 3 "$?"
out="$(grid sandbox exec $ID "true" 2>&1)"; status=$?
check "exec after the session ended fails" 1 "$status"
check_contains "and says why" "session has ended" "$out"
check_contains "list shows the sandbox" "$ID" "$(grid sandbox list)"
check_contains "trajectory has the commands" "$ cat test.txt" "$(grid sandbox trajectory $ID)"
check_contains "inspect is JSON" "\"status\"" "$(grid sandbox inspect $ID)"
check "isolation as the server's default" "${GRID_SANDBOX_ISOLATION:-default}" \
  "$(grid sandbox inspect $ID | python3 -c 'import json,sys; print(json.load(sys.stdin)["isolation"])')"

grid sandbox stop $ID
check "stop succeeds" 0 "$?"
out="$(grid sandbox exec nope "true" 2>&1)"; status=$?
check "unknown id is an error" 1 "$status"
check_contains "naming the id" "nope" "$out"
out="$(grid sandbox --server http://127.0.0.1:1 list 2>&1)"; status=$?
check "unreachable server exits non-zero" 2 "$status"
check_contains "with one clear message" "cannot reach the Grid server" "$out"
