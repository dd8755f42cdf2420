#!/usr/bin/env bash
# Load: ~200 concurrent requests against a server with --max-sandboxes 4: 24 full sandbox
# lifecycles (create, start, 3 execs whose outputs are checked, delete, 404 after) mixed with
# list and healthz calls. Every answer must be right, healthz must answer while starts are
# queued, and nothing of the instance may remain afterwards.
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
port="$(free_port)"
instance="grid-load-test-$$"
start_server "$port" "$instance" --max-sandboxes 4 || { failures=$((failures + 1)); exit 1; }

python3 - "http://127.0.0.1:$port" "$IMAGE" > "$work/load.out" 2>&1 <<'PY'
import http.client, json, sys, threading, time, urllib.parse

BASE, IMAGE = sys.argv[1], sys.argv[2]
LIFECYCLES, LISTERS, LISTS_EACH, MAX_RUNNING = 24, 4, 8, 4
host = urllib.parse.urlparse(BASE)
failures, lock = [], threading.Lock()
counts = {"requests": 0, "healthz_while_queued": 0}
created_ids = set()

def fail(what):
    with lock:
        failures.append(what)

def request(method, path, body=None):
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=300)
    try:
        data = None if body is None else json.dumps(body)
        headers = {"Content-Type": "application/json"} if data else {}
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        raw = response.read()
        with lock:
            counts["requests"] += 1
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
            fail(f"{method} {path}: answer is not JSON: {raw[:200]!r}")
        return response.status, parsed
    finally:
        conn.close()

def expect(what, expected, actual):
    if expected != actual:
        fail(f"{what}: expected {expected!r}, got {actual!r}")
        return False
    return True

# Lifecycles that got a slot hold it until the monitor has seen starts queued behind them, so
# "healthz answers while starts wait" is observed every run, not by luck.
queue_observed = threading.Event()
all_done = threading.Event()

def lifecycle(i):
    status, sandbox = request("POST", "/sandboxes", {"image": IMAGE, "labels": {"n": str(i)}})
    if not expect(f"#{i} create status", 201, status):
        return
    sid = sandbox["id"]
    with lock:
        created_ids.add(sid)
    expect(f"#{i} created state", "created", sandbox["status"])
    status, sandbox = request("POST", f"/sandboxes/{sid}/start")
    expect(f"#{i} start status", 200, status)
    expect(f"#{i} running after start", "running", (sandbox or {}).get("status"))
    if not queue_observed.wait(120):
        fail(f"#{i}: no queued start was ever observed")
    execs = [
        ({"command": f"export N={i}; cd /tmp"}, "", 0),
        ({"command": "echo $N $PWD"}, f"{i} /tmp\n", 0),
        ({"command": f"echo err-{i} >&2; (exit 3)"}, f"err-{i}\n", 3),
    ]
    for n, (body, output, code) in enumerate(execs):
        status, result = request("POST", f"/sandboxes/{sid}/exec", body)
        expect(f"#{i} exec {n} status", 200, status)
        result = result or {}
        expect(f"#{i} exec {n} output", output, result.get("output"))
        expect(f"#{i} exec {n} exit_code", code, result.get("exit_code"))
    status, _ = request("DELETE", f"/sandboxes/{sid}")
    expect(f"#{i} delete status", 200, status)
    status, answer = request("GET", f"/sandboxes/{sid}")
    expect(f"#{i} gone after delete", 404, status)
    expect(f"#{i} 404 code", "not_found", (answer or {}).get("code"))

def lister(k):
    for _ in range(LISTS_EACH):
        status, listing = request("GET", "/sandboxes")
        expect(f"lister {k} status", 200, status)
        if not isinstance(listing, list):
            fail(f"lister {k}: not a list: {listing!r}")
            continue
        for s in listing:
            if s.get("status") not in ("created", "starting", "running", "stopped"):
                fail(f"lister {k}: unexpected status {s.get('status')!r}")
            if s.get("labels", {}).get("n") is None:
                fail(f"lister {k}: a sandbox that is not ours: {s.get('id')}")

def monitor():
    # Polls healthz until every lifecycle is done: each answer must be 200 and well formed.
    while not all_done.is_set():
        status, health = request("GET", "/healthz")
        expect("healthz status", 200, status)
        health = health or {}
        if health.get("running", 0) > MAX_RUNNING:
            fail(f"healthz: {health.get('running')} running > {MAX_RUNNING}")
        if health.get("waiting", 0) > 0:
            with lock:
                counts["healthz_while_queued"] += 1
            queue_observed.set()
        all_done.wait(0.05)

threads = [threading.Thread(target=lifecycle, args=(i,)) for i in range(LIFECYCLES)]
threads += [threading.Thread(target=lister, args=(k,)) for k in range(LISTERS)]
watcher = threading.Thread(target=monitor)
watcher.start()
started = time.monotonic()
for t in threads:
    t.start()
for t in threads:
    t.join(300)
    if t.is_alive():
        fail("a client thread hung past 300 s")
all_done.set()
queue_observed.set()
watcher.join(60)

status, listing = request("GET", "/sandboxes")
expect("final list status", 200, status)
expect("no sandbox left in the server", [], listing)
expect("lifecycles that created a sandbox", LIFECYCLES, len(created_ids))
if counts["healthz_while_queued"] == 0:
    fail("healthz never answered while starts were queued")
print(f"{counts['requests']} requests in {time.monotonic() - started:.1f} s; "
      f"{counts['healthz_while_queued']} healthz answers while starts were queued")
for sid in sorted(created_ids):
    print(f"id {sid}")
for f in failures:
    print(f"FAILED: {f}")
sys.exit(1 if failures else 0)
PY
status=$?
grep -v '^id ' "$work/load.out"
check "every answer under load was right" 0 "$status"
requests="$(sed -n 's/^\([0-9]*\) requests in.*/\1/p' "$work/load.out")"
check "about 200 requests were made" 1 "$([ "${requests:-0}" -ge 190 ] && echo 1 || echo 0)"
check "the server is still up" 200 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")"

case "$GRID_TEST_BACKEND" in
  docker)
    check "no docker container of the instance left" 0 \
      "$(docker ps -aq --filter "label=grid.instance=$instance" | wc -l)" ;;
  podman)
    check "no podman container of the instance left" 0 \
      "$(CONTAINERS_CONF="$(dirname "$0")/../../ci/containers.conf" podman ps -aq \
          --filter "label=grid.instance=$instance" | wc -l)" ;;
  local-namespace)
    state_dir="$(awk '/^\[backend.local-namespace\]/ {s=1; next} /^\[/ {s=0}
                     s && $1 == "state_dir" {print $3; exit}' "$GRID_TEST_CONFIG")"
    left=0
    for id in $(sed -n 's/^id //p' "$work/load.out"); do
      [ -e "$state_dir/$id" ] && left=$((left + 1))
      for d in /sys/fs/cgroup/*/grid/"$id" /sys/fs/cgroup/grid/"$id"; do
        [ -e "$d" ] && left=$((left + 1))
      done
    done
    check "no state dir or cgroup of the 24 sandboxes left" 0 "$left"
    check "no record of the instance left in $state_dir" "" \
      "$(grep -l "^instance=$instance\$" "$state_dir"/*/sandbox.meta 2>/dev/null)" ;;
esac
