# shellcheck shell=bash
# Unit facts (parsed by service.ts) and why a unit is down.
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# panel_units_prefetch UNIT...: every unit's "systemctl is-enabled" answer,
# ActiveState (what is-active prints) and ActiveEnterTimestamp, in two
# systemctl processes for all units instead of three per unit; service facts
# read them (panel_unit_facts). is-enabled stays (not show's UnitFileState):
# it reads the unit files on disk, as the old per-unit call did, while
# UnitFileState is the manager's cached answer, stale until a daemon-reload
# after links are changed by hand, and names the target, not "alias", for an
# alias. is-enabled prints one line per unit in order, but systemd < 254
# stops at a unit it cannot find (that unit gets '' as before, the rest are
# asked again), and a unit with a SysV script is answered by the SysV helper
# out of order: such units are asked alone.
declare -A PANEL_UNIT_ENABLED=() PANEL_UNIT_ACTIVE=() PANEL_UNIT_SINCE=()
panel_units_prefetch() {
  local -a rest=() out=()
  local u i n line
  for u in "$@"; do
    if [ -e "/etc/init.d/${u%.service}" ]; then
      PANEL_UNIT_ENABLED[$u]=$(systemctl is-enabled -- "$u" 2>/dev/null | head -n 1)
    else rest+=("$u"); fi
  done
  while [ "${#rest[@]}" -gt 0 ]; do
    mapfile -t out < <(systemctl is-enabled -- "${rest[@]}" 2>/dev/null)
    n=${#out[@]}
    for ((i = 0; i < n && i < ${#rest[@]}; i++)); do PANEL_UNIT_ENABLED[${rest[i]}]=${out[i]}; done
    [ "$n" -lt "${#rest[@]}" ] || break
    PANEL_UNIT_ENABLED[${rest[n]}]=
    rest=("${rest[@]:n+1}")
  done
  # One block per unit, in the order asked, blank line between blocks.
  i=0
  while IFS= read -r line; do
    if [ -z "$line" ]; then i=$((i + 1)); continue; fi
    u=${*:i+1:1}
    [ -n "$u" ] || continue
    case $line in
      ActiveState=*) PANEL_UNIT_ACTIVE[$u]=${line#*=} ;;
      ActiveEnterTimestamp=*) PANEL_UNIT_SINCE[$u]=${line#*=} ;;
    esac
  done < <(systemctl show -p ActiveState -p ActiveEnterTimestamp -- "$@" 2>/dev/null)
}

# systemd's view of the unit files, reloaded once for many changes. A daemon-reload
# costs systemd 0.4-0.5 s on a test host, and a first install made four for faasd
# alone (one per unit written, one inside each `systemctl enable`). A unit written
# marks the view stale (panel_units_stale units), an enable or disable without
# systemctl's own reload marks its links stale (panel_units_stale links: the links
# are read from disk at boot and by is-enabled, only the running manager's idea of
# a target's wants waits). panel_units_fresh reloads, when a unit file is stale,
# before anything that starts, stops or reloads a unit; the apply script's end
# (its EXIT trap) reloads for whatever is left. The marks are files: each step
# runs in a subshell. $$ is the script's own shell in every step.
PANEL_UNITS_STALE=${PANEL_RUN_DIR:-/run/panel}/systemd-stale.$$
panel_units_stale() {
  [ -d /run/systemd/system ] || return 0
  mkdir -p -- "${PANEL_UNITS_STALE%/*}" && : >> "$PANEL_UNITS_STALE.$1"
}
panel_units_fresh() {
  [ -e "$PANEL_UNITS_STALE.units" ] || return 0
  systemctl daemon-reload || return 1
  rm -f -- "$PANEL_UNITS_STALE.units" "$PANEL_UNITS_STALE.links"
}
# At the script's end: a failed reload is said (systemd keeps its old view until one succeeds), not a failed run.
panel_units_flush() {
  [ -e "$PANEL_UNITS_STALE.units" ] || [ -e "$PANEL_UNITS_STALE.links" ] || return 0
  rm -f -- "$PANEL_UNITS_STALE.units" "$PANEL_UNITS_STALE.links"
  systemctl daemon-reload || echo "panel: systemctl daemon-reload failed: systemd runs with its earlier view of the unit files until one succeeds" >&2
}

# panel_unit_facts UNIT -> enabled=, active=, since= (prefetched, else asked now).
panel_unit_facts() {
  local u=$1
  if [ -n "${PANEL_UNIT_ACTIVE[$u]+set}" ] && [ -n "${PANEL_UNIT_ENABLED[$u]+set}" ]; then
    printf 'enabled=%s\nactive=%s\nsince=%s\n' "${PANEL_UNIT_ENABLED[$u]}" "${PANEL_UNIT_ACTIVE[$u]}" "${PANEL_UNIT_SINCE[$u]:-}"
    return 0
  fi
  echo "enabled=$(systemctl is-enabled "$u" 2>/dev/null | head -n 1)"
  echo "active=$(systemctl is-active "$u" 2>/dev/null | head -n 1)"
  echo "since=$(systemctl show -p ActiveEnterTimestamp --value "$u" 2>/dev/null | head -n 1)"
}

# panel_unit_journal UNIT: why a unit is down: its state, then the last 20
# lines of its journal, indented, under a header line the engine keeps whole
# in the error (src/engine/batch.ts failureTail).
panel_unit_journal() {
  printf 'panel: %s is %s; last lines of its journal (journalctl -u %s -n 20):\n' "$1" "$(systemctl is-active "$1" 2>/dev/null | head -n 1)" "$1"
  journalctl -u "$1" -n 20 --no-pager -q 2>&1 </dev/null | cut -c 1-300 | sed 's/^/  /'
}

# panel_units_active UNIT...: verify: 'systemctl is-active UNIT...'; when one
# is not active, the journal of each unit that is not. In the planning round
# trip the fact batch has just read every service's state
# (panel_units_prefetch): when it says all are active, that answer is printed
# as is-active prints it, with no systemctl; anything else asks systemctl.
panel_units_active() {
  local u n rc=0 all=1
  for u in "$@"; do
    n=$u; [[ $n =~ \.[a-z]+$ ]] || n=$n.service
    [ "${PANEL_UNIT_ACTIVE[$n]:-}" = active ] || { all=0; break; }
  done
  if [ "$all" = 1 ] && [ "$#" -gt 0 ]; then printf 'active\n%.0s' "$@"; return 0; fi
  systemctl is-active "$@" || rc=$?
  [ "$rc" -eq 0 ] && return 0
  for u in "$@"; do systemctl is-active --quiet "$u" || panel_unit_journal "$u"; done
  return "$rc"
}
