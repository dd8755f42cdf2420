#!/usr/bin/env bash
# The HTTP API contract from a client's point of view: statuses, JSON bodies, errors.
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
port="$(free_port)"
# A bound on lifetimes, for the 400 over it (docs/lifetimes.md); an hour leaves the rest alone.
GRID_LIFETIMES_MAX_TTL=3600 start_server "$port" "grid-api-test-$$" || exit 1
api="http://127.0.0.1:$port"

r="$(request GET /healthz)"; check "healthz" 200 "${r%% *}"
r="$(request POST /sandboxes '{"image": 5}')"
check "mistyped field is 400" 400 "${r%% *}"
check "with a JSON error and code" "invalid_argument" "$(echo "${r#* }" | json 'd["code"]')"
r="$(request POST /sandboxes '{not json')"; check "bad JSON is 400" 400 "${r%% *}"
r="$(request GET /sandboxes/unknown)"; check "unknown id is 404" 404 "${r%% *}"
check "404 has a JSON error" "not_found" "$(echo "${r#* }" | json 'd["code"]')"
r="$(request GET /nothing-here)"; check "unknown route is 404" 404 "${r%% *}"
r="$(request DELETE /sandboxes)"; check "wrong method is 405" 405 "${r%% *}"
check "with its own code" method_not_allowed "$(echo "${r#* }" | json 'd["code"]')"
{ printf '{"image":"'; head -c 2000000 /dev/zero | tr '\0' a; printf '"}'; } > "$work/big.json"
code="$(curl -s -o "$work/body" -w '%{http_code}' -X POST "$api/sandboxes" --data-binary @"$work/big.json")"
check "oversized body is 413" 413 "$code"
check "with a JSON error and its own code" request_body_too_large "$(json 'd["code"]' < "$work/body")"
# Refusals of the socket layer, before any route: each status has its own code.
{ printf 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: '; head -c 70000 /dev/zero | tr '\0' a; printf '\r\n\r\n'; } > "$work/big-head"
answer="$(python3 - "$port" "$work/big-head" <<'PY'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
s.sendall(open(sys.argv[2], "rb").read())
data = b""
while chunk := s.recv(65536):
    data += chunk
print(data.decode(errors="replace"))
PY
)"
check_contains "oversized head is 431" "HTTP/1.1 431 " "$answer"
check_contains "with its own code" '"code":"request_header_too_large"' "$answer"
# Without "Expect: 100-continue" the client streams the whole body before reading the answer.
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Expect:' -X POST "$api/sandboxes" --data-binary @"$work/big.json")"
check "oversized body sent at once is 413" 413 "$code"
check_contains "status line has its reason" "404 Not Found" "$(curl -s -i "$api/sandboxes/nope" | head -1)"

# Lifetimes: each bad value is 400 naming its field; nothing is created.
r="$(request POST /sandboxes '{"ttl_seconds": -1}')"; check "negative ttl is 400" 400 "${r%% *}"
check_contains "naming the field" "ttl_seconds" "$(echo "${r#* }" | json 'd["error"]')"
r="$(request POST /sandboxes '{"idle_timeout_seconds": "soon"}')"; check "idle timeout not a number is 400" 400 "${r%% *}"
check_contains "naming the field" "idle_timeout_seconds" "$(echo "${r#* }" | json 'd["error"]')"
r="$(request POST /sandboxes '{"ttl_seconds": 3601}')"; check "ttl over the server's maximum is 400" 400 "${r%% *}"
check_contains "naming the maximum" "maximum of 3600 s" "$(echo "${r#* }" | json 'd["error"]')"
r="$(request POST /sandboxes '{"ttl_seconds": 0}')"; check "no ttl under a maximum is 400" 400 "${r%% *}"
r="$(request POST /sandboxes '{"expiry_action": "delete"}')"; check "unknown expiry action is 400" 400 "${r%% *}"
check_contains "naming the accepted values" "stop, pause" "$(echo "${r#* }" | json 'd["error"]')"
check "nothing was created" 0 "$(request GET /sandboxes | cut -d' ' -f2- | json 'len(d)')"
r="$(request POST /sandboxes '{"idle_timeout_seconds": 600}')"; check "lifetime create is 201" 201 "${r%% *}"
check "the maximum is its ttl" 3600 "$(echo "${r#* }" | json 'd["ttl_seconds"]')"
check "its idle timeout" 600 "$(echo "${r#* }" | json 'd["idle_timeout_seconds"]')"
check "stop by default" stop "$(echo "${r#* }" | json 'd["expiry_action"]')"
lifetime_id="$(echo "${r#* }" | json 'd["id"]')"
r="$(request DELETE "/sandboxes/$lifetime_id")"; check "lifetime sandbox deleted" 200 "${r%% *}"
out="$(grid sandbox --server "$api" create --ttl 7200 2>&1)"; check "CLI: --ttl over the maximum fails" 1 "$?"
check_contains "with the server's reason" "maximum of 3600 s" "$out"
out="$(grid sandbox --server "$api" --json create --ttl 60 --idle-timeout 30 --expiry-action stop)"
check "CLI: --ttl and --idle-timeout reach the request" "60 30" "$(echo "$out" | json 'str(d["ttl_seconds"]) + " " + str(d["idle_timeout_seconds"])')"
r="$(request DELETE "/sandboxes/$(echo "$out" | json 'd["id"]')")"; check "CLI lifetime sandbox deleted" 200 "${r%% *}"

r="$(request POST /sandboxes '{"isolation": "vm"}')"
check "unknown isolation is 400" 400 "${r%% *}"
check_contains "naming the accepted values" "default, gvisor" "$(echo "${r#* }" | json 'd["error"]')"
# gVisor: docker offers it (runsc registered by scripts/start-engines.sh); podman where the
# service honours a per-container runtime (not Podman 4.3); local-namespace refuses it. A
# refusal comes at create, before anything is made.
r="$(request POST /sandboxes "{\"image\":\"$IMAGE\",\"isolation\":\"gvisor\"}")"
if [ "$GRID_TEST_BACKEND" = docker ] || { [ "$GRID_TEST_BACKEND" = podman ] && [ "${r%% *}" = 201 ]; }; then
  check "gvisor create is 201" 201 "${r%% *}"
  check "described as gvisor" gvisor "$(echo "${r#* }" | json 'd["isolation"]')"
  gvisor_id="$(echo "${r#* }" | json 'd["id"]')"
  r="$(request DELETE "/sandboxes/$gvisor_id")"; check "gvisor sandbox deleted" 200 "${r%% *}"
else
  check "gvisor on $GRID_TEST_BACKEND is 400" 400 "${r%% *}"
  check "as unsupported" unsupported "$(echo "${r#* }" | json 'd["code"]')"
  check_contains "naming the isolation" "gvisor" "$(echo "${r#* }" | json 'd["error"]')"
fi

r="$(request POST /sandboxes "{\"image\":\"$IMAGE\",\"labels\":{\"team\":\"rl\"},\"env\":{\"GREETING\":\"hi\"}}")"
check "create is 201" 201 "${r%% *}"
id="$(echo "${r#* }" | json 'd["id"]')"
check "default isolation described" default "$(echo "${r#* }" | json 'd["isolation"]')"
check "created status" created "$(echo "${r#* }" | json 'd["status"]')"
r="$(request POST "/sandboxes/$id/exec" '{"command":"true"}')"; check "exec before start is 409" 409 "${r%% *}"
r="$(request POST "/sandboxes/$id/processes" '{"command":"true"}')"; check "process before start is 409" 409 "${r%% *}"
r="$(request POST "/sandboxes/$id/start")"; check "start is 200" 200 "${r%% *}"
check "running after start" running "$(echo "${r#* }" | json 'd["status"]')"
r="$(request POST "/sandboxes/$id/start")"; check "double start is 409" 409 "${r%% *}"
# The files API's refusals (docs/files.md).
r="$(request GET "/sandboxes/$id/files?path=relative")"; check "files: relative path is 400" 400 "${r%% *}"
check "as invalid_argument" invalid_argument "$(echo "${r#* }" | json 'd["code"]')"
r="$(request GET "/sandboxes/$id/files?path=/a%00b")"; check "files: NUL in path is 400" 400 "${r%% *}"
r="$(request GET "/sandboxes/$id/files")"; check "files: missing path is 400" 400 "${r%% *}"
r="$(request GET "/sandboxes/$id/files?path=/tmp&what=1")"; check "files: unknown query is 400" 400 "${r%% *}"
r="$(request GET "/sandboxes/$id/files?path=/no/such/file")"; check "files: missing file is 404" 404 "${r%% *}"
r="$(request GET "/sandboxes/$id/files?path=/tmp")"; check "files: directory without tar is 409" 409 "${r%% *}"
r="$(request GET "/sandboxes/unknown/files?path=/tmp")"; check "files: unknown sandbox is 404" 404 "${r%% *}"
r="$(request POST "/sandboxes/$id/files/mkdir" '{"path": 1}')"; check "files: bad mkdir body is 400" 400 "${r%% *}"
r="$(request PATCH "/sandboxes/$id/files?path=/tmp")"; check "files: wrong method is 405" 405 "${r%% *}"
code="$(printf 'x' | curl -s -o "$work/body" -w '%{http_code}' -X PUT -H 'Transfer-Encoding: chunked' --data-binary @- "$api/sandboxes/$id/files?path=/tmp/chunked")"
check "files: chunked upload without length is 411" 411 "$code"
check "as length_required" length_required "$(json 'd["code"]' < "$work/body")"
code="$(curl -s -o "$work/body" -w '%{http_code}' -X PUT --data-binary @"$work/big.json" "$api/sandboxes/$id/files?path=/tmp/big.json")"
check "files: upload above max_body_bytes is 201" 201 "$code"
check "files: and reads back whole" "$(wc -c < "$work/big.json")" "$(curl -s "$api/sandboxes/$id/files?path=/tmp/big.json" | wc -c)"
code="$(curl -s -o "$work/body" -w '%{http_code}' -X PUT --data-binary 'x' "$api/sandboxes/$id/files?path=/tmp")"
check "files: a directory in place of the file is 409" 409 "$code"
r="$(request POST "/sandboxes/$id/exec" '{"command":"echo $GREETING; printf \"\\xff\""}')"
check "exec is 200" 200 "${r%% *}"
check "output, invalid UTF-8 replaced" "$(printf 'hi\n\xef\xbf\xbd')" "$(echo "${r#* }" | json 'd["output"]')"
check "exec fields" "0 False False False" "$(echo "${r#* }" | json '" ".join(str(d[k]) for k in ["exit_code","exited","timed_out","truncated"])')"
r="$(request POST "/sandboxes/$id/exec" '{"command":"echo o; echo e >&2; exit 2","standalone":true}')"
check "standalone streams" "o|e|2" "$(echo "${r#* }" | json 'd["stdout"].strip()+"|"+d["stderr"].strip()+"|"+str(d["exit_code"])')"
r="$(request POST "/sandboxes/$id/exec" '{"command":"sleep 30","timeout":1}')"
check "timeout reported" True "$(echo "${r#* }" | json 'd["timed_out"]')"
r="$(request POST "/sandboxes/$id/exec" '{"command":"x","timeout":-1}')"; check "bad timeout is 400" 400 "${r%% *}"
r="$(request GET "/sandboxes/$id")"
check "inspect counts commands" 3 "$(echo "${r#* }" | json 'd["command_count"]')"
check "inspect shows labels" rl "$(echo "${r#* }" | json 'd["labels"]["team"]')"
r="$(request GET "/sandboxes/$id/trajectory")"
check "trajectory lists execs" 3 "$(echo "${r#* }" | json 'len([e for e in d["trajectory"] if e["kind"] == "exec"])')"
check "and the file operations" 2 "$(echo "${r#* }" | json 'len([e for e in d["trajectory"] if e["kind"].startswith("file_")])')"
r="$(request GET "/sandboxes/$id/trajectory/formatted")"
check_contains "formatted trajectory" '$ sleep 30' "$r"
r="$(request GET /sandboxes)"
check "list has the sandbox" "$id" "$(echo "${r#* }" | json 'd[0]["id"]')"
# Live output (docs/live-output.md): chunked NDJSON, one event per line, one result last; a
# character split across two writes arrives whole.
curl -sN -D "$work/stream-head" -o "$work/stream-body" -X POST "$api/sandboxes/$id/exec" \
  -d '{"command":"echo one; printf \"\\xc3\"; sleep 0.2; printf \"\\xa9\\n\"; echo two >&2","stream":true}'
check_contains "stream is 200" "200 OK" "$(head -1 "$work/stream-head")"
check_contains "as NDJSON" "application/x-ndjson" "$(cat "$work/stream-head")"
check_contains "chunked" "transfer-encoding: chunked" "$(tr 'A-Z' 'a-z' < "$work/stream-head")"
check "output events, then one result" "$(printf 'one\n\xc3\xa9\ntwo\n')|output|1|0" "$(python3 -c '
import json, sys
events = [json.loads(line) for line in open(sys.argv[1], encoding="utf-8")]
data = "".join(e["data"] for e in events if e["type"] == "output")
streams = ",".join(sorted({e["stream"] for e in events if e["type"] == "output"}))
results = [e for e in events if e["type"] == "result"]
print(data.rstrip("\n") + "|" + streams + "|" + str(len(results)) + "|" + str(events[-1]["exit_code"]))
' "$work/stream-body")"
code="$(curl -sN -o "$work/stream-body" -w '%{content_type}' -H 'Accept: application/x-ndjson' \
  -X POST "$api/sandboxes/$id/exec" -d '{"command":"echo by-accept"}')"
check "Accept asks for the stream" "application/x-ndjson" "$code"
code="$(curl -sN -o "$work/stream-body" -w '%{http_code}' -X POST "$api/sandboxes/nope/exec" \
  -d '{"command":"true","stream":true}')"
check "an error before the stream is a JSON answer" "404 not_found" "$code $(json 'd["code"]' < "$work/stream-body")"
# A client that goes away mid-stream (curl gives up after 2 s) interrupts the command; the
# session serves the next exec, and the trajectory says so.
curl -sN --max-time 2 -o /dev/null -X POST "$api/sandboxes/$id/exec" \
  -d '{"command":"sleep 30; echo finished","stream":true}'
r="$(request POST "/sandboxes/$id/exec" '{"command":"echo after-disconnect"}')"
check "session serves after a disconnect" "after-disconnect" "$(echo "${r#* }" | json 'd["output"].strip()')"
r="$(request GET "/sandboxes/$id/trajectory")"
check "trajectory marks the exec interrupted" "True 130" "$(echo "${r#* }" | json 'str(d["trajectory"][-2]["result"].get("interrupted")) + " " + str(d["trajectory"][-2]["exit_code"])')"
# Background processes (docs/processes.md).
p="/sandboxes/$id/processes"
r="$(request POST "$p" '{"command":"echo up; exec sleep 300","env":{"A":"1"}}')"
check "process start is 201" 201 "${r%% *}"
check "handle and status" "1 running" "$(echo "${r#* }" | json 'str(d["pid"])+" "+d["status"]')"
r="$(request POST "$p" '{}')"; check "process without command is 400" 400 "${r%% *}"
r="$(request POST "$p" '{"command":"true","env":{"A-B":"1"}}')"; check "bad env name is 400" 400 "${r%% *}"
r="$(request POST "$p" '{"command":"true","cwd":"/no/such/dir"}')"; check "missing cwd is 400" 400 "${r%% *}"
check_contains "naming it" "/no/such/dir" "$(echo "${r#* }" | json 'd["error"]')"
r="$(request GET "$p/99")"; check "unknown process is 404" 404 "${r%% *}"
r="$(request GET "$p/x")"; check "non-numeric process is 404" 404 "${r%% *}"
r="$(request GET "$p/1/nothing")"; check "unknown process route is 404" 404 "${r%% *}"
r="$(request PUT "$p/1")"; check "wrong method on a process is 405" 405 "${r%% *}"
r="$(request POST "$p/1/signal" '{"signal":"BOGUS"}')"; check "bad signal is 400" 400 "${r%% *}"
r="$(request POST "$p/99/signal" '{"signal":"TERM"}')"; check "signal to unknown process is 404" 404 "${r%% *}"
r="$(request GET "$p/1/output?offset=abc")"; check "bad offset is 400" 400 "${r%% *}"
r="$(request GET "$p/1/output?offset=99999999")"; check "offset past the output is 400" 400 "${r%% *}"
r="$(request GET "$p")"; check "process list" "1" "$(echo "${r#* }" | json 'len(d)')"
r="$(request DELETE "$p/1")"; check "process kill is 200" 200 "${r%% *}"
check "killed" killed "$(echo "${r#* }" | json 'd["status"]')"
r="$(request GET "$p/1/output?offset=0")"; check "its output stays readable" "up" "$(echo "${r#* }" | json 'd["data"].strip()')"
# Pause and resume (docs/pause-resume.md).
r="$(request POST "/sandboxes/$id/resume")"; check "resume of a running sandbox is 409" 409 "${r%% *}"
r="$(request POST "/sandboxes/$id/pause")"; check "pause is 200" 200 "${r%% *}"
check "described as paused, with paused_at" "paused True" "$(echo "${r#* }" | json 'd["status"]+" "+str(d["paused_at"] is not None)')"
r="$(request POST "/sandboxes/$id/pause")"; check "pause twice is 409" 409 "${r%% *}"
check_contains "saying so" "already paused" "$(echo "${r#* }" | json 'd["error"]')"
r="$(request POST "/sandboxes/$id/exec" '{"command":"true"}')"; check "exec on a paused sandbox is 409" 409 "${r%% *}"
check_contains "naming auto_resume" "auto_resume" "$(echo "${r#* }" | json 'd["error"]')"
r="$(request POST "/sandboxes/$id/exec" '{"command":"true","auto_resume":"yes"}')"; check "mistyped auto_resume is 400" 400 "${r%% *}"
r="$(request GET "/sandboxes/$id/files?path=/tmp")"; check "files on a paused sandbox are 409" 409 "${r%% *}"
r="$(request POST "/sandboxes/$id/exec" '{"command":"echo awake","auto_resume":true}')"
check "exec with auto_resume runs" awake "$(echo "${r#* }" | json 'd["output"].strip()')"
r="$(request GET "/sandboxes/$id")"; check "and left it running" "running None" "$(echo "${r#* }" | json 'd["status"]+" "+str(d["paused_at"])')"
r="$(request POST "/sandboxes/$id/pause")"; check "pause again is 200" 200 "${r%% *}"
r="$(request GET /healthz)"; check "a paused sandbox holds no running slot" 0 "$(echo "${r#* }" | json 'd["running"]')"
r="$(request POST "/sandboxes/$id/resume")"; check "resume is 200" 200 "${r%% *}"
check "running after resume" running "$(echo "${r#* }" | json 'd["status"]')"
r="$(request GET "/sandboxes/$id/pause")"; check "GET pause is 405" 405 "${r%% *}"
r="$(request POST "/sandboxes/unknown/pause")"; check "pause of an unknown sandbox is 404" 404 "${r%% *}"
r="$(request POST "/sandboxes/unknown/resume")"; check "resume of an unknown sandbox is 404" 404 "${r%% *}"
check_contains "CLI pause" "paused" "$(grid sandbox --server "$api" pause "$id" 2>&1)"
check_contains "CLI resume" "resumed" "$(grid sandbox --server "$api" resume "$id" 2>&1)"
r="$(request POST "/sandboxes/$id/stop" '{"remove":false}')"; check "stop is 200" 200 "${r%% *}"
r="$(request GET "/sandboxes/$id")"; check "kept as stopped" stopped "$(echo "${r#* }" | json 'd["status"]')"
r="$(request GET "/sandboxes/$id/processes")"; check "processes gone with the sandbox" 0 "$(echo "${r#* }" | json 'len(d)')"
r="$(request POST "/sandboxes/$id/processes" '{"command":"true"}')"; check "process in a stopped sandbox is 409" 409 "${r%% *}"
r="$(request DELETE "/sandboxes/$id")"; check "delete is 200" 200 "${r%% *}"
r="$(request GET "/sandboxes/$id")"; check "gone after delete" 404 "${r%% *}"

r="$(request POST /sandboxes '{"image":"grid-test/no-such-image:1"}')"
id="$(echo "${r#* }" | json 'd["id"]')"
r="$(request POST "/sandboxes/$id/start")"; check "missing image is 404" 404 "${r%% *}"
check_contains "naming the image" "no-such-image" "${r#* }"
r="$(request POST /sandboxes "{\"image\":\"$IMAGE\",\"setup_commands\":[\"echo step\",\"exit 9\"]}")"
id="$(echo "${r#* }" | json 'd["id"]')"
r="$(request POST "/sandboxes/$id/start")"; check "failed setup is 400" 400 "${r%% *}"
check "with its status and output" "setup_failed 9 step" "$(echo "${r#* }" | json 'd["code"]+" "+str(d["exit_code"])+" "+d["output"].strip()')"
r="$(request GET "/healthz")"; check "no slot held after failures" 0 "$(echo "${r#* }" | json 'd["running"]')"

# Authentication: with a token every route but /healthz needs it.
stop_server TERM
GRID_AUTH_TOKEN=s3cret start_server "$port" "grid-api-test-$$" || exit 1
r="$(request GET /sandboxes)"; check "no token is 401" 401 "${r%% *}"
check "with a JSON error" unauthorized "$(echo "${r#* }" | json 'd["code"]')"
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$api/sandboxes")"
check "wrong token is 401" 401 "$code"
code="$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer s3cret' "$api/sandboxes")"
check "right token is 200" 200 "$code"
r="$(request GET /healthz)"; check "healthz needs no token" 200 "${r%% *}"
check_contains "CLI passes --token" "ID" "$(grid sandbox --server "$api" --token s3cret list 2>&1)"
check_contains "CLI reports 401" "bearer token" "$(grid sandbox --server "$api" list 2>&1)"
stop_server TERM
out="$(grid serve --config "$GRID_TEST_CONFIG" --backend "$GRID_TEST_BACKEND" --bind 0.0.0.0 --port "$port" 2>&1)"
check "non-loopback bind without token refused" 1 "$?"
check_contains "saying how to fix it" "--insecure" "$out"
