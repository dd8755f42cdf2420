#!/usr/bin/env bash
# Fails when a folder of core/src includes a folder it may not (see core/src/README.md): each
# layer includes only the layers below it, and the public SDK (grid/...) is open to all.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/core/src"

declare -A allowed=(
  [util]=""
  [net]="util"
  [plugin]="util"
  [session]="util"
  [files]="util session"
  [network]="util"
  [sandbox]="util session network"
  [api]="util net session files sandbox network"
  [config]="util plugin network"
)

status=0
for dir in "$src"/*/; do
  layer="$(basename "$dir")"
  if [[ -z "${allowed[$layer]+set}" ]]; then
    echo "core/src/$layer: not a known layer; add it to scripts/check-layers.sh and README.md"
    status=1
    continue
  fi
  while IFS=: read -r file line include; do
    target="$(sed -E 's/.*#include "([^"]*)".*/\1/' <<<"$include")"
    [[ "$target" == */* ]] || {
      echo "${file#"$src"/}:$line: include \"$target\" by its path from core/src"
      status=1
      continue
    }
    folder="${target%%/*}"
    [[ "$folder" == grid || "$folder" == "$layer" ]] && continue
    if [[ " ${allowed[$layer]} " != *" $folder "* ]]; then
      echo "core/src/${file#"$src"/}:$line: $layer/ may not include $target" \
           "(allowed: ${allowed[$layer]:-nothing but itself and grid/})"
      status=1
    fi
  done < <(grep -rnH --include='*.h' --include='*.cc' '^#include "' "$dir" || true)
done
[[ $status -eq 0 ]] && echo "core/src layers: every include points downward"
exit $status
