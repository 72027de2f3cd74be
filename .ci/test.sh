#!/usr/bin/env bash
# npm test: every built test file, with a private TMPDIR that must be empty
# afterwards — a test that leaves a temporary directory behind fails the run
# (test/support/temp.ts makes directories that clean up after themselves).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# Lint first (tsc with noUnused*, eslint, shellcheck), outside the private
# TMPDIR: a finding fails the run and counts as one failure in the closing
# line, but the tests still run.
lint_rc=0
npm run --silent lint || lint_rc=$?
tmp=$(mktemp -d "${TMPDIR:-/tmp}/panel-suite.XXXXXX")
export TMPDIR="$tmp"
# Two test files at a time: a file's testbed spends most of its time waiting
# (boots, apt, containers, the CA), and a serial run kept one of the two cores
# of a CI runner idle most of the time. Beds are isolated from each other
# (own bridge, subnet, netns and services, claimed under one lock).
# PANEL_TEST_FILES_AT_ONCE=1 runs them one by one.
# The slow files first (.ci/slow-first), then every other file in name order.
# Only built tests whose source is still there: tsc never deletes the output of
# a test file that was removed or renamed, and a stale copy would still run.
all=$(find dist/test -name '*.test.js' | sort | while read -r f; do s=${f#dist/}; [ -f "${s%.js}.ts" ] && echo "$f"; done)
first=$(grep -v '^#' .ci/slow-first | awk '{ print "dist/test/" $1 }' | grep -xF -f <(printf '%s\n' "$all"))
rest=$(printf '%s\n' "$all" | grep -vxF -f <(printf '%s\n' "$first"))
# shellcheck disable=SC2046,SC2086 # test file paths have no spaces: one word each is meant
node --test --test-concurrency="${PANEL_TEST_FILES_AT_ONCE:-2}" "$@" $first $rest | tee "$tmp/.tap"
rc=${PIPESTATUS[0]}
if [ "$lint_rc" -ne 0 ]; then
  echo "npm test: lint failed (npm run lint exited $lint_rc; its findings are above): counts as failed" >&2
  echo "# lint failed 1"
  [ "$rc" -eq 0 ] && rc=1
fi
# A skip fails the run unless .ci/allowed-skips names it with the reason CI
# cannot meet it: a skip nobody reads is a test that never runs.
if ! refused=$(bash .ci/skips.sh "$tmp/.tap"); then
  n=$(printf '%s' "$refused" | grep -c '' || true)
  echo "npm test: skipped, and not on .ci/allowed-skips (each counts as failed):" >&2
  printf '%s\n' "$refused" | sed 's/^/  /' >&2
  echo "# refused skips $n"
  [ "$rc" -eq 0 ] && rc=1
fi
rm -f "$tmp/.tap"
# tsx-<uid> is tsx's compile cache (tests that run the CLI from source), not a leak.
left=$(find "$tmp" -mindepth 1 -maxdepth 1 ! -name 'tsx-*' -printf '%f\n')
rm -rf "$tmp"
if [ -n "$left" ]; then
  echo "npm test: these were left behind in TMPDIR (remove them when the test ends):" >&2
  echo "$left" >&2
  [ "$rc" -eq 0 ] && rc=1
fi
exit "$rc"
