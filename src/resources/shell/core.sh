# shellcheck shell=bash
# The core every script needs: the mode, the state paths, failing, the tail of output, JSON strings, the reboot marker.
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

: "${PANEL_MODE:=facts}"

panel_fail() { printf 'panel: %s\n' "$*" >&2; exit 1; }
panel_may_write() { [ "${PANEL_MODE:-facts}" = apply ]; }

# panel_tail N: the last N non-empty lines of stdin (the one "last lines of stderr" helper).
panel_tail() { grep -v '^[[:space:]]*$' | tail -n "${1:-8}"; }

# panel_last_lines N TEXT: the last N lines of TEXT, in bash (checks run on
# every converged host: no tail process per check).
panel_last_lines() {
  local -a __ll
  mapfile -t __ll <<<"$2"
  if [ "${#__ll[@]}" -gt "$1" ]; then __ll=("${__ll[@]: -$1}"); fi
  printf '%s\n' "${__ll[@]}"
}

# panel_json_set VAR TEXT: TEXT as a JSON string in VAR, set in the caller's
# shell (no subshell: the state record's writers call it for every file);
# fails on control characters, VAR unchanged. No locals (the positional
# parameters hold the work), so no name of the caller's is shadowed.
panel_json_set() {
  case $2 in *[[:cntrl:]]*) return 1 ;; esac
  set -- "$1" "${2//\\/\\\\}"
  set -- "$1" "${2//\"/\\\"}"
  printf -v "$1" '"%s"' "$2"
}

# panel_json_str TEXT -> TEXT as a JSON string; fails on control characters.
panel_json_str() {
  local __jv
  panel_json_set __jv "$1" || return 1
  printf '%s' "$__jv"
}

# panel_utc_set VAR FORMAT: the time now, in UTC, by bash's strftime (no date process).
panel_utc_set() {
  local TZ=UTC0
  printf -v "$1" "%($2)T" -1
}

# panel_reboot_required PATH [WHY]: something panel could not free (a busy
# mount, a process that will not die); the run reports it and exits non-zero.
panel_reboot_required() { printf '%s %s%s\n' "$PANEL_REBOOT_MARKER" "$1" "${2:+ ($2)}"; }
