# shellcheck shell=bash
# The validator of unit files (unit.ts).
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# panel_unit_verify CANDIDATE TARGET: 'systemd-analyze verify' of the unit
# under its real name (a copy in a temp dir), where systemd runs; drop-ins
# and hosts without systemd-analyze are not verified.
panel_unit_verify() {
  local d rc=0 name
  name=$(basename -- "$2")
  case $2 in *.d/*.conf) return 0 ;; esac
  [ -d /run/systemd/system ] && command -v systemd-analyze >/dev/null 2>&1 || return 0
  d=$(mktemp -d) || return 1
  cp -- "$1" "$d/$name" || { rm -rf -- "$d"; return 1; }
  SYSTEMD_LOG_LEVEL=err systemd-analyze verify --man=no "$d/$name" || rc=$?
  rm -rf -- "$d"
  return "$rc"
}
