#!/usr/bin/env bash
# Warm pools (docs/pools.md) through the real server, with 2 running slots and a pool of 2 (so
# every level below is deterministic: a refill needs a free slot): the pool fills at start-up;
# a matching create takes a sandbox that existed before it (a hit: ready drops to 1, hits +1);
# once it is deleted the pool refills to 2; a create that matches no pool is cold, and its
# start, finding no free slot, stops one idle pool sandbox for its slot; an unknown image in a
# pool stops start-up with an error naming the pool; a SIGKILLed server's pool sandboxes are
# removed by the next start, and SIGTERM leaves nothing.
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
port="$(free_port)"
api="http://127.0.0.1:$port"
instance="grid-pool-test-$$"
base_config="$GRID_TEST_CONFIG"
pool_config="$work/pool.ini"
cp "$base_config" "$pool_config"
printf '\n[pool.warm]\nimage = %s\nsize = 2\nmemory_mb = 1024\n' "$IMAGE" >>"$pool_config"
export GRID_TEST_CONFIG="$pool_config"

pools() { request GET /pools | cut -d' ' -f2-; }
pool_field() { pools | json "d['pools'][0]['$1']"; }

# poll_until DESCRIPTION SECONDS COMMAND...: polls COMMAND until it succeeds or the deadline.
poll_until() {
  local what="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  while ! "$@"; do
    if [ "$SECONDS" -ge "$deadline" ]; then echo "FAILED: $what within ${seconds}s"; failures=$((failures + 1)); return 1; fi
    sleep 0.1
  done
  echo "ok: $what"
}
pool_is_full() { [ "$(pool_field ready)" = 2 ]; }

start_server "$port" "$instance" --max-sandboxes 2 || exit 1
check "GET /pools names the pool" "warm 2 $IMAGE" \
  "$(pools | json "' '.join(str(x) for x in (d['pools'][0]['name'], d['pools'][0]['size'], d['pools'][0]['image']))")"
poll_until "the pool holds 2 ready sandboxes" 120 pool_is_full
check_contains "grid sandbox pools prints the pool" "warm" "$(grid sandbox pools --server "$api" 2>&1)"
check "POST /pools is 405" "405" "$(request POST /pools '{}' | cut -d' ' -f1)"
check "GET /pools names no sandbox id (nobody can reach a pool sandbox)" "False" \
  "$(request GET /pools | cut -d' ' -f2- | python3 -c 'import re,sys; print(bool(re.search("[0-9a-f]{8}-[0-9a-f]{4}-", sys.stdin.read())))')"
check "the pool's sandboxes are not listed as user sandboxes" "0" "$(request GET /sandboxes | cut -d' ' -f2- | json 'len(d)')"

# A matching create: a hit, taken at once, the setup commands run in it at start.
hits_before="$(pool_field hits)"
reply="$(request POST /sandboxes "{\"image\":\"$IMAGE\",\"limits\":{\"memory_mb\":1024},\"setup_commands\":[\"echo set-up > /tmp/setup\"]}")"
check "matching create is 201" "201" "${reply%% *}"
id="$(echo "${reply#* }" | json "d['id']")"
check "the sandbox says which pool it came from" "warm" "$(echo "${reply#* }" | json "d['pool']")"
check "the hit is counted" "$((hits_before + 1))" "$(pool_field hits)"
check "ready dropped to 1 (no free slot to refill with)" "1" "$(pool_field ready)"
check "start of the taken sandbox is 200" "200" "$(request POST "/sandboxes/$id/start" | cut -d' ' -f1)"
check "its setup commands ran" "set-up" \
  "$(request POST "/sandboxes/$id/exec" '{"command":"cat /tmp/setup"}' | cut -d' ' -f2- | json "d['output'].strip()")"
check "its session works" "hi" \
  "$(request POST "/sandboxes/$id/exec" '{"command":"echo hi"}' | cut -d' ' -f2- | json "d['output'].strip()")"
check "delete of the taken sandbox is 200" "200" "$(request DELETE "/sandboxes/$id" | cut -d' ' -f1)"
poll_until "the pool refills to 2 once a slot is free" 120 pool_is_full

# A create that matches no pool (other limits): cold, nothing taken.
reply="$(request POST /sandboxes "{\"image\":\"$IMAGE\",\"limits\":{\"memory_mb\":2048}}")"
cold="$(echo "${reply#* }" | json "d['id']")"
check "a non-matching create is not from a pool" "None" "$(echo "${reply#* }" | json "d['pool']")"
check "it is counted as unmatched" "1" "$(pools | json "d['unmatched']")"
check "it took nothing from the pool" "2 $((hits_before + 1))" "$(pool_field ready) $(pool_field hits)"
check "the cold start is 200" "200" "$(request POST "/sandboxes/$cold/start" | cut -d' ' -f1)"
check "the cold sandbox runs" "cold" \
  "$(request POST "/sandboxes/$cold/exec" '{"command":"echo cold"}' | cut -d' ' -f2- | json "d['output'].strip()")"
check "the cold start took an idle pool sandbox's slot" "1" "$(pool_field ready)"
check "metrics show the pool" "grid_pool_ready{pool=\"warm\"} 1" \
  "$(request GET /metrics | grep -o 'grid_pool_ready{pool="warm"} 1')"

# SIGKILL: the cold sandbox and the pool's ready one are the next start's leftovers.
stop_server KILL
: >"$work/server.log"
export GRID_TEST_CONFIG="$base_config"
start_server "$port" "$instance" || exit 1
log="$(cat "$work/server.log")"
check_contains "the cold sandbox is removed at restart" "removed sandbox $cold" "$log"
removed="$(grep -c 'left behind' "$work/server.log")"
check "the pool sandbox is removed at restart too" "2" "$removed"
stop_server TERM

# SIGTERM with a full pool removes it all.
export GRID_TEST_CONFIG="$pool_config"
: >"$work/server.log"
start_server "$port" "$instance" --max-sandboxes 2 || exit 1
poll_until "the pool fills again" 120 pool_is_full
stop_server TERM
check_contains "SIGTERM removes the pool sandboxes" "removing 2 pool sandboxes" "$(cat "$work/server.log")"
export GRID_TEST_CONFIG="$base_config"
: >"$work/server.log"
start_server "$port" "$instance" || exit 1
check "nothing left after SIGTERM" "" "$(grep 'left behind' "$work/server.log")"
stop_server TERM
case "$GRID_TEST_BACKEND" in
  docker) check "no container of the instance" 0 "$(docker ps -aq --filter "label=grid.instance=$instance" | wc -l)" ;;
  podman) check "no container of the instance" 0 \
    "$(CONTAINERS_CONF="$(dirname "$0")/../../ci/containers.conf" podman ps -aq --filter "label=grid.instance=$instance" 2>/dev/null | wc -l)" ;;
esac

# A pool naming an unknown image: start-up fails, naming the pool.
bad_config="$work/bad.ini"
cp "$base_config" "$bad_config"
printf '\n[pool.ghost]\nimage = grid-test/no-such-image:%s\nsize = 1\n' "$$" >>"$bad_config"
out="$(grid serve --config "$bad_config" --backend "$GRID_TEST_BACKEND" --port "$port" --instance "$instance" 2>&1)"
status=$?
[ "$status" -ne 0 ] && echo "ok: start-up with an unknown pool image exits $status" ||
  { echo "FAILED: start-up with an unknown pool image exited 0"; failures=$((failures + 1)); }
check_contains "the error names the pool" "[pool.ghost]" "$out"
