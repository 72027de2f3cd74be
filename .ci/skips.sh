#!/usr/bin/env bash
# .ci/skips.sh TAP-LOG: list the skipped (and todo) tests of a `node --test` TAP
# log that .ci/allowed-skips does not allow, one per line; exit 1 if there is
# any, or if an allow-list entry gives no reason. Prints the count of skips
# that are allowed on stderr.
set -euo pipefail
log=$1
allow="$(dirname "$0")/allowed-skips"
bad_entry=$(grep -vE '^[[:space:]]*(#|$)' "$allow" | grep -vE '^.+[^[:space:]] # [^[:space:]].*$' || true)
if [ -n "$bad_entry" ]; then
  printf 'npm test: entries of %s without a reason (NAME # REASON):\n%s\n' "$allow" "$bad_entry" >&2
  exit 1
fi
names=$(grep -vE '^[[:space:]]*(#|$)' "$allow" | sed -E 's/ # [^#]*$//' || true)
# `ok 12 - name # SKIP reason` at any depth (a skipped describe is one line).
skipped=$(sed -nE 's/^[[:space:]]*(not )?ok [0-9]+ - (.*) # (SKIP|TODO)([[:space:]].*)?$/\2/p' "$log")
allowed=0 refused=()
while IFS= read -r n; do
  [ -n "$n" ] || continue
  if [ -n "$names" ] && grep -qxF -- "$n" <<< "$names"; then allowed=$((allowed + 1)); else refused+=("$n"); fi
done <<< "$skipped"
[ "$allowed" -eq 0 ] || echo "npm test: $allowed skipped test(s) allowed by $allow" >&2
[ "${#refused[@]}" -eq 0 ] && exit 0
printf '%s\n' "${refused[@]}"
exit 1
