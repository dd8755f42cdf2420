#!/usr/bin/env bash
# The dashboard (GET /ui) in a real headless Chromium: see dashboard_test.py. Also the static
# files' headers: served without a token, with a Content-Security-Policy that forbids inline
# script. Screenshots go to $GRID_ARTIFACT_DIR.
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
chromium_bin="$(command -v chromium || command -v chromium-browser || true)"
if [ -z "$chromium_bin" ]; then
  if [ "${CI:-}" = true ]; then
    echo "FAILED: chromium is not installed (scripts/install-deps.sh all)"; exit 1
  fi
  echo "SKIPPED: chromium is not installed"; exit 77
fi
token="dash-$$-$RANDOM$RANDOM"
port="$(free_port)"
export GRID_AUTH_TOKEN="$token"
start_server "$port" "grid-dashboard-test-$$" || exit 1
api="http://127.0.0.1:$port"
auth=(-H "Authorization: Bearer $token")

headers="$(curl -s -D - -o "$work/index.html" "$api/ui")"
check_contains "the page is served without a token" "HTTP/1.1 200" "$headers"
check_contains "with a Content-Security-Policy" "script-src 'self'" "$headers"
check_contains "that allows no inline script" "default-src 'none'" "$headers"
check "the page has no inline script" "" "$(grep -Eo '<script>|onclick=|onload=' "$work/index.html")"
check "the script is served" 200 "$(curl -s -o /dev/null -w '%{http_code}' "$api/ui/app.js")"
check "no file outside the ui directory" 404 \
  "$(curl -s -o /dev/null -w '%{http_code}' --path-as-is "$api/ui/../grid.ini")"
check "the API still needs the token" 401 "$(curl -s -o /dev/null -w '%{http_code}' "$api/sandboxes")"

created="$(curl -s "${auth[@]}" -X POST "$api/sandboxes" -H 'Content-Type: application/json' \
  --data-binary "{\"image\":\"$IMAGE\",\"limits\":{\"memory_mb\":512}}")"
id="$(echo "$created" | json 'd["id"]')"
check "sandbox started" 200 "$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" -X POST "$api/sandboxes/$id/start")"

artifacts="${GRID_ARTIFACT_DIR:-$work/artifacts}"
if PYTHONDONTWRITEBYTECODE=1 python3 "$(dirname "$0")/dashboard_test.py" "$api" "$token" "$id" "$IMAGE" \
    "$artifacts/$GRID_TEST_BACKEND" "$chromium_bin"; then
  echo "ok: the dashboard test in Chromium"
else
  echo "FAILED: the dashboard test in Chromium"; failures=$((failures + 1))
fi
curl -s -o /dev/null "${auth[@]}" -X DELETE "$api/sandboxes/$id"
