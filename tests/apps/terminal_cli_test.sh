#!/usr/bin/env bash
# `grid sandbox shell` as a person uses it: in a real terminal (a private tmux server), keys
# typed with `tmux send-keys` and the screen read with `tmux capture-pane`. Checks a command's
# output, line editing, Ctrl-C, a full-screen program (top), resize, the shell's exit status as
# the CLI's, and that the local terminal leaves raw mode on every way out (a signal too).
source "$(dirname "$0")/lib.sh"
command -v tmux >/dev/null || { echo "tmux is missing (scripts/install-deps.sh all)"; exit 1; }
IMAGE="$(test_image)"
port="$(free_port)"
start_server "$port" "grid-terminal-cli-test-$$" || exit 1
export GRID_SERVER="http://127.0.0.1:$port"

id="$(grid sandbox create --image "$IMAGE" --json | json 'd["id"]')"
grid sandbox start "$id" >/dev/null || { echo "start failed"; exit 1; }

sock="$work/tmux.sock"
tm() { tmux -S "$sock" "$@"; }
cleanup_tmux() { tm kill-server 2>/dev/null; }
trap 's=$?; cleanup_tmux; finish; f=$?; exit $(( s ? s : f ))' EXIT

# The pane runs the CLI, then records its status and the terminal's mode after it.
cat >"$work/pane.sh" <<PANE
#!/bin/bash
export PATH="$PATH" GRID_SERVER="$GRID_SERVER"
grid sandbox shell "\$1"
echo "\$?" >"\$2.status"
stty -a >"\$2.stty"
exec sleep 600
PANE
chmod +x "$work/pane.sh"

screen() { tm capture-pane -p -t "$1"; }
# wait_screen TARGET EXTENDED-REGEX [SECONDS]: polls the screen (a bound, not a delay).
wait_screen() {
  local limit=$(( ${3:-30} * 10 ))
  for _ in $(seq 1 "$limit"); do
    screen "$1" | grep -Eq -- "$2" && return 0
    sleep 0.1
  done
  echo "--- screen of $1 (no match for $2):"; screen "$1"; return 1
}
wait_file() {  # wait_file PATH [SECONDS]
  for _ in $(seq 1 $(( ${2:-30} * 10 ))); do [ -s "$1" ] && return 0; sleep 0.1; done; return 1
}
keys() { tm send-keys -t "$1" "${@:2}"; }

tm -f /dev/null new-session -d -s main -x 100 -y 30 "$work/pane.sh $id $work/main"
tm set -g status off >/dev/null
wait_screen main '[#$] ?$'; check "the shell prompt appears" 0 "$?"

keys main 'echo typed-$((6*7))' Enter
wait_screen main '^typed-42'; check "a typed command's output appears" 0 "$?"

# Line editing: Ctrl-A to the line's start, Ctrl-E to its end, Backspace.
keys main 'cho edited-$((2+3))Z'
keys main C-a; keys main 'e'; keys main C-e; keys main BSpace; keys main Enter
wait_screen main '^edited-5$'; check "Ctrl-A, Ctrl-E and Backspace edit the line" 0 "$?"

keys main 'sleep 100' Enter
wait_screen main 'sleep 100$'
keys main C-c
keys main 'echo after-$((1+1))' Enter
wait_screen main '^after-2$' 20; check "Ctrl-C interrupts sleep and the shell survives" 0 "$?"

# top: from the image, or procps's own from this (Debian 12) host where the image lacks it.
if ! grid sandbox exec "$id" 'command -v top' >/dev/null; then
  grid sandbox exec "$id" 'mkdir -p /opt/top' >/dev/null
  grid sandbox cp "$(command -v top)" "$id:/opt/top/" &&
    grid sandbox cp "$(ldconfig -p | awk '/libproc2.so.0 / {print $NF; exit}')" "$id:/opt/top/"
  top_cmd='LD_LIBRARY_PATH=/opt/top /opt/top/top'
else
  top_cmd='top'
fi
keys main "$top_cmd" Enter
wait_screen main '^ *PID +USER' ; check "top draws its table" 0 "$?"
wait_screen main '^(top - |Tasks:)'; check "top draws its header" 0 "$?"
# q, pressed again as a person would if the first went unseen.
# top may leave its last frame on the screen: back at the shell means the prompt is the last
# line shown.
at_prompt() { screen main | grep -v '^$' | tail -1 | grep -Eq '[#$] ?$'; }
for _ in 1 2 3; do
  keys main q
  for _ in $(seq 1 30); do at_prompt && break; sleep 0.1; done
  at_prompt && break
done
keys main 'echo top-quit-$((1+2))' Enter
wait_screen main '^top-quit-3$'; check "q quits top back to the shell" 0 "$?"

tm resize-window -t main -x 120 -y 40
keys main 'clear; stty size' Enter
wait_screen main '^40 120$'; check "a resize reaches stty size" 0 "$?"

keys main 'exit 3' Enter
wait_file "$work/main.status"; wait_file "$work/main.stty"; check "exit 3 ends the CLI with status 3" "3" "$(cat "$work/main.status" 2>/dev/null)"
check_contains "the terminal is cooked again after the exit" " icanon" "$(cat "$work/main.stty" 2>/dev/null)"
check_contains "with echo again" " echo " "$(cat "$work/main.stty" 2>/dev/null)"

# A signal to the CLI (the terminal closed, a kill) restores the terminal too.
tm new-session -d -s sig -x 100 -y 30 "$work/pane.sh $id $work/sig"
wait_screen sig '[#$] ?$'; check "a second terminal opens" 0 "$?"
cli_pid="$(pgrep -f "^grid sandbox shell $id\$" | head -1)"
[ -n "$cli_pid" ] && kill -TERM "$cli_pid"
wait_file "$work/sig.stty"
check_contains "SIGTERM restores the terminal" " icanon" "$(cat "$work/sig.stty" 2>/dev/null)"
check "and the CLI died of it" "143" "$(cat "$work/sig.status" 2>/dev/null)"

# Both terminals' shells are gone from the sandbox (closing kills them).
for _ in $(seq 1 100); do
  left="$(grid sandbox exec "$id" 'for d in /proc/[0-9]*; do tr "\0" " " < $d/cmdline; echo; done 2>/dev/null | grep -cE "^(ba)?s[h] -l ?$|sleep 10[0]"')"
  [ "$left" = "0" ] && break; sleep 0.1
done
check "no terminal shell is left in the sandbox" "0" "$left"

grid sandbox shell no-such-sandbox 2>"$work/err" </dev/null; check "an unknown sandbox fails" 1 "$?"
check_contains "saying so" "no-such-sandbox" "$(cat "$work/err")"
grid sandbox stop "$id" >/dev/null
