#!/usr/bin/env bash
# Slow or stuck clients cannot take the server down: connections that send half a request
# (slowloris; far more of them than the server has worker threads) wait in the connection gate
# without a thread, clients that never read a large response hold at most their own worker
# thread, and health checks and other clients keep being served.
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
port="$(free_port)"
start_server "$port" "grid-slow-test-$$" || exit 1
api="http://127.0.0.1:$port"

id="$(curl -sf -X POST "$api/sandboxes" -d "{\"image\":\"$IMAGE\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
curl -sf -X POST "$api/sandboxes/$id/start" >/dev/null || echo "start failed"

# 600 half-sent requests and 2 clients that ask for ~1 MiB of output and never read it, held
# open in the background for the duration of the checks below.
python3 - "$port" "$id" >"$work/clients.log" 2>&1 <<'PY' &
import socket, sys, time, json
port, sid = int(sys.argv[1]), sys.argv[2]
held = []
for _ in range(600):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /sandboxes HTTP/1.1\r\nHost: x\r\nContent-Le")
    held.append(s)
body = json.dumps({"command": "head -c 3000000 /dev/zero | tr '\\0' x", "standalone": True}).encode()
for _ in range(2):
    s = socket.create_connection(("127.0.0.1", port))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.sendall(b"POST /sandboxes/%s/exec HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (sid.encode(), len(body), body))
    held.append(s)
print("holding", flush=True)
time.sleep(20)
PY
clients=$!
for _ in $(seq 1 100); do grep -q holding "$work/clients.log" 2>/dev/null && break; sleep 0.1; done
check "stuck clients are connected" holding "$(cat "$work/clients.log")"

code="$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$api/healthz")"
check "health answers while clients are stuck" 200 "$code"
out="$(curl -s -m 20 -X POST "$api/sandboxes/$id/exec" -d '{"command":"echo served"}')"
check_contains "another client's exec is served" '"output":"served\n"' "$out"
code="$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$api/sandboxes")"
check "list answers" 200 "$code"
kill "$clients" 2>/dev/null; wait "$clients" 2>/dev/null
code="$(curl -s -m 10 -o /dev/null -w '%{http_code}' "$api/healthz")"
check "still healthy after they leave" 200 "$code"
