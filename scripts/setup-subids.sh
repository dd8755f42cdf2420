#!/usr/bin/env bash
# Gives Grid a subordinate uid/gid range for the local-namespace backend's user namespaces:
# appends `grid:START:COUNT` to /etc/subuid and /etc/subgid unless both already have a
# `grid` entry. START is chosen above every existing entry of either file (so the range
# overlaps no other user's), COUNT holds 256 sandboxes of 65536 ids. Idempotent; run as root.
#   scripts/setup-subids.sh [COUNT]
set -euo pipefail
count="${1:-16777216}"
files=(/etc/subuid /etc/subgid)
for f in "${files[@]}"; do touch "$f"; done
if grep -q '^grid:' /etc/subuid && grep -q '^grid:' /etc/subgid; then
  echo "setup-subids: grid already has $(grep -m1 '^grid:' /etc/subuid) / $(grep -m1 '^grid:' /etc/subgid)" >&2
  exit 0
fi
# The end of the highest range in either file; at least 2^24, well above ordinary uids.
end=$(awk -F: 'NF >= 3 && $2 ~ /^[0-9]+$/ && $3 ~ /^[0-9]+$/ { e = $2 + $3; if (e > m) m = e }
               END { print m + 0 }' "${files[@]}")
start=$(( end > 16777216 ? end : 16777216 ))
start=$(( (start + 65535) / 65536 * 65536 ))
if (( start + count >= 4294967295 )); then
  echo "setup-subids: no room for $count ids above $start" >&2
  exit 1
fi
for f in "${files[@]}"; do
  grep -q '^grid:' "$f" || echo "grid:$start:$count" >> "$f"
done
echo "setup-subids: grid:$start:$count added to /etc/subuid and /etc/subgid" >&2
