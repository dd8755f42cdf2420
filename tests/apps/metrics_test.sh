#!/usr/bin/env bash
# GET /metrics scraped from a real `grid serve`: the token rule, the exposition text, latency
# histograms that count what ran, per-sandbox CPU and memory, GET /sandboxes/{id}/stats, and
# the metrics-only listener ([metrics] bind) that needs no token and serves nothing else.
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
token="metrics-$$-$RANDOM$RANDOM"
port="$(free_port)"
metrics_port="$(free_port)"
export GRID_AUTH_TOKEN="$token" GRID_METRICS_BIND="127.0.0.1:$metrics_port"
start_server "$port" "grid-metrics-test-$$" || exit 1
api="http://127.0.0.1:$port"
auth=(-H "Authorization: Bearer $token")
code() { curl -s -o "$work/body" -w '%{http_code}' "$@"; }
# sample NAME{LABELS} from a scrape in $work/body: its value, or "absent"
sample() { awk -v key="$1" '$1 == key { print $2; found = 1 } END { if (!found) print "absent" }' "$work/body"; }

check "metrics without a token is 401" 401 "$(code "$api/metrics")"
check "POST /metrics is 405" 405 "$(code "${auth[@]}" -X POST "$api/metrics")"
check "metrics with the token is 200" 200 "$(code "${auth[@]}" "$api/metrics")"
check_contains "in the text exposition format" "text/plain; version=0.0.4" \
  "$(curl -s -o /dev/null -w '%{content_type}' "${auth[@]}" "$api/metrics")"
check "the running limit" 10 "$(sample grid_running_limit)"
check "no sandbox yet" 0 "$(sample 'grid_sandboxes{status="running"}')"
check "paused is exposed" 0 "$(sample grid_sandboxes_paused)"
check_contains "session exec histogram exists" \
  "grid_exec_duration_seconds_count{backend=\"$GRID_TEST_BACKEND\",mode=\"session\"} 0" "$(cat "$work/body")"
check "the 401 was counted" 1 "$(sample 'grid_request_failures_total{code="unauthorized"}')"
check "the 405 was counted" 1 "$(sample 'grid_request_failures_total{code="method_not_allowed"}')"

created="$(curl -s "${auth[@]}" -X POST "$api/sandboxes" -H 'Content-Type: application/json' \
  --data-binary "{\"image\":\"$IMAGE\",\"limits\":{\"memory_mb\":256}}")"
id="$(echo "$created" | json 'd["id"]')"
check "stats of a created sandbox is 409" 409 "$(code "${auth[@]}" "$api/sandboxes/$id/stats")"
check "started" 200 "$(code "${auth[@]}" -X POST "$api/sandboxes/$id/start")"
# Burn some CPU in the sandbox so its counter is visibly above zero.
exec_json='{"command":"i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; head -c 20000000 /dev/zero | tail -c 1 >/dev/null; echo done"}'
check "session exec" 200 "$(code "${auth[@]}" -X POST "$api/sandboxes/$id/exec" -H 'Content-Type: application/json' --data-binary "$exec_json")"
check "standalone exec" 200 "$(code "${auth[@]}" -X POST "$api/sandboxes/$id/exec" -H 'Content-Type: application/json' --data-binary '{"command":"true","standalone":true}')"

check "stats of the running sandbox" 200 "$(code "${auth[@]}" "$api/sandboxes/$id/stats")"
check "cpu seconds above zero" True "$(json 'd["cpu_seconds"] is not None and d["cpu_seconds"] > 0' < "$work/body")"
check "memory bytes above zero" True "$(json 'd["memory_bytes"] is not None and d["memory_bytes"] > 0' < "$work/body")"
check "with the memory limit" 268435456 "$(json 'd["memory_limit_bytes"]' < "$work/body")"
check "stats of an unknown sandbox is 404" 404 "$(code "${auth[@]}" "$api/sandboxes/nope/stats")"

check "scrape" 200 "$(code "${auth[@]}" "$api/metrics")"
check "one session exec counted" 1 \
  "$(sample "grid_exec_duration_seconds_count{backend=\"$GRID_TEST_BACKEND\",mode=\"session\"}")"
check "one standalone exec counted" 1 \
  "$(sample "grid_exec_duration_seconds_count{backend=\"$GRID_TEST_BACKEND\",mode=\"standalone\"}")"
check "its +Inf bucket holds it" 1 \
  "$(sample "grid_exec_duration_seconds_bucket{backend=\"$GRID_TEST_BACKEND\",mode=\"standalone\",le=\"+Inf\"}")"
check "one start timed" 1 "$(sample "grid_sandbox_start_duration_seconds_count{backend=\"$GRID_TEST_BACKEND\"}")"
check "one queue wait timed" 1 "$(sample "grid_sandbox_start_queue_wait_seconds_count{backend=\"$GRID_TEST_BACKEND\"}")"
check "one running sandbox" 1 "$(sample 'grid_sandboxes{status="running"}')"
check "one running slot" 1 "$(sample grid_sandboxes_running)"
check "the 409 and 404 counted" "1 1" \
  "$(sample 'grid_request_failures_total{code="conflict"}') $(sample 'grid_request_failures_total{code="not_found"}')"
check "per-sandbox cpu" True "$(python3 -c "print(float('$(sample "grid_sandbox_cpu_seconds_total{sandbox=\"$id\"}")') > 0)" 2>&1)"
check "per-sandbox memory" True "$(python3 -c "print(float('$(sample "grid_sandbox_memory_bytes{sandbox=\"$id\"}")') > 0)" 2>&1)"
check "nothing skipped" 0 "$(sample grid_sandbox_stats_skipped)"
check "no sandbox label on a histogram" "" "$(grep -E '^grid_[a-z_]+_(bucket|sum|count)\{[^}]*sandbox=' "$work/body")"
# Every line is a comment or NAME{labels} VALUE, and each family has HELP and TYPE.
check "well-formed exposition" "" "$(python3 - "$work/body" <<'PY'
import re, sys
bad = []
typed = set()
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("# TYPE "):
        typed.add(line.split()[2]); continue
    if line.startswith("# HELP ") or not line:
        continue
    m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? (\S+)', line)
    if not m: bad.append(line); continue
    name = re.sub(r"_(bucket|sum|count)$", "", m.group(1))
    if m.group(1) not in typed and name not in typed: bad.append("untyped " + line)
    float(m.group(5).replace("+Inf", "inf"))
print("\n".join(bad))
PY
)"

# The metrics-only listener: no token, /metrics only.
check "listener serves metrics without a token" 200 "$(code "http://127.0.0.1:$metrics_port/metrics")"
check_contains "the same series" "grid_running_limit 10" "$(cat "$work/body")"
check "listener serves nothing else" 404 "$(code "http://127.0.0.1:$metrics_port/sandboxes")"
check "not even with a token" 404 "$(code "${auth[@]}" "http://127.0.0.1:$metrics_port/sandboxes/$id")"
check "listener refuses POST" 405 "$(code -X POST "http://127.0.0.1:$metrics_port/metrics")"

check "deleted" 200 "$(code "${auth[@]}" -X DELETE "$api/sandboxes/$id")"
check "scrape after delete" 200 "$(code "${auth[@]}" "$api/metrics")"
check "its series are gone" absent "$(sample "grid_sandbox_memory_bytes{sandbox=\"$id\"}")"
