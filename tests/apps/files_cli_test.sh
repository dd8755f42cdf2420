#!/usr/bin/env bash
# `grid sandbox cp` and `grid sandbox ls` through the real binary: files and trees both ways,
# binary bytes and modes kept, docker cp's rules for existing directories, and clear errors.
source "$(dirname "$0")/lib.sh"
IMAGE="$(test_image)"
port="$(free_port)"
start_server "$port" "grid-files-cli-test-$$" || exit 1
export GRID_SERVER="http://127.0.0.1:$port"

id="$(grid sandbox create --image "$IMAGE" --json | json 'd["id"]')"
grid sandbox start "$id" >/dev/null || { echo "start failed"; exit 1; }

mkdir -p "$work/src/sub"
printf 'a\0b\377c' > "$work/src/sub/bin.dat"
printf '#!/bin/sh\necho ran\n' > "$work/src/run.sh"; chmod 750 "$work/src/run.sh"
: > "$work/src/empty"

grid sandbox cp "$work/src/run.sh" "$id:/work/"; check "file into an existing directory" 0 "$?"
check "keeps its mode and runs" "ran" "$(grid sandbox exec "$id" '/work/run.sh')"
grid sandbox cp "$work/src" "$id:/work/tree"; check "tree to a new path" 0 "$?"
check "holds the files" "$(printf 'a\0b\377c' | od -An -tx1)" "$(grid sandbox exec "$id" 'od -An -tx1 /work/tree/sub/bin.dat')"
grid sandbox cp "$work/src" "$id:/work"; check "tree into an existing directory" 0 "$?"
check "lands under its name" "0" "$(grid sandbox exec "$id" 'test -f /work/src/empty; echo $?')"

listing="$(grid sandbox ls "$id" /work/tree)"
check_contains "ls shows the header" "TYPE" "$listing"
check_contains "ls shows a file with its mode" "0750" "$(echo "$listing" | grep run.sh)"
check_contains "ls shows a directory" "directory" "$(echo "$listing" | grep sub)"

mkdir -p "$work/back"
grid sandbox cp "$id:/work/tree/sub/bin.dat" "$work/back/"; check "file back" 0 "$?"
cmp -s "$work/src/sub/bin.dat" "$work/back/bin.dat"; check "same bytes" 0 "$?"
grid sandbox cp "$id:/work/tree" "$work/back/tree2"; check "tree back" 0 "$?"
cmp -s "$work/src/sub/bin.dat" "$work/back/tree2/sub/bin.dat"; check "tree bytes" 0 "$?"
check "tree modes" "750" "$(stat -c %a "$work/back/tree2/run.sh")"
check_contains "tar on stdout" "tree/run.sh" "$(grid sandbox cp "$id:/work/tree" - | tar -tf -)"

grid sandbox cp "$id:/work/nope" "$work/back/x" 2>"$work/err"; check "missing source fails" 1 "$?"
# The message is the tool's ("No such file ...") or the engine's ("no such file ...").
check_contains "saying so" "o such file" "$(cat "$work/err")"
grid sandbox cp "$work/src/run.sh" "$work/elsewhere" 2>"$work/err"; check "two local paths fail" 1 "$?"
grid sandbox ls "$id" /nope 2>"$work/err"; check "ls of a missing path fails" 1 "$?"
grid sandbox stop "$id" >/dev/null
