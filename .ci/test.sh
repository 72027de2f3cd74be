#!/usr/bin/env bash
# npm test: every built test file, with a private TMPDIR that must be empty
# afterwards — a test that leaves a temporary directory behind fails the run
# (test/support/temp.ts makes directories that clean up after themselves).
set -uo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d "${TMPDIR:-/tmp}/panel-suite.XXXXXX")
export TMPDIR="$tmp"
# shellcheck disable=SC2046
node --test --test-concurrency=1 "$@" $(find dist/test -name '*.test.js' | sort)
rc=$?
# tsx-<uid> is tsx's compile cache (tests that run the CLI from source), not a leak.
left=$(find "$tmp" -mindepth 1 -maxdepth 1 ! -name 'tsx-*' -printf '%f\n')
rm -rf "$tmp"
if [ -n "$left" ]; then
  echo "npm test: these were left behind in TMPDIR (remove them when the test ends):" >&2
  echo "$left" >&2
  [ "$rc" -eq 0 ] && rc=1
fi
exit "$rc"
