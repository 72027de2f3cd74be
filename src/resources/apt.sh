# shellcheck shell=bash
# apt and dpkg: waiting for cloud-init and the dpkg lock, repairing an interrupted dpkg, installing (facts parsed by apt.ts).
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# panel_dpkg_lock_holder -> "NAME (pid N)" of the process holding one of
# dpkg's or apt's locks (read from /proc/locks, so nothing is locked or
# written), or nothing when they are free.
# /proc/locks is read by bash (a line per lock: "… PID MAJ:MIN:INODE …"; "->"
# lines are waiters); the lock files' inodes come from one stat, and only
# when some lock is held at all.
panel_dpkg_lock_holder() {
  local ino pid name i line
  local -a w
  local -A held=()
  while read -r -a w; do
    [ "${w[1]:-}" = '->' ] && continue
    for ((i = 1; i < ${#w[@]}; i++)); do
      if [[ ${w[i]} =~ ^[0-9a-f]+:[0-9a-f]+:([0-9]+)$ ]]; then
        [ -n "${held[${BASH_REMATCH[1]}]+set}" ] || held[${BASH_REMATCH[1]}]=${w[i-1]}
        break
      fi
    done
  done </proc/locks 2>/dev/null
  [ "${#held[@]}" -gt 0 ] || return 0
  while IFS= read -r line; do
    ino=${line%% *}
    pid=${held[$ino]:-}
    [ -n "$pid" ] || continue
    name=; read -r name <"/proc/$pid/comm" 2>/dev/null || name=
    if [ -n "$name" ] && [ "$pid" -gt 0 ] 2>/dev/null; then printf '%s (pid %s)\n' "$name" "$pid"; else echo 'a process outside this view'; fi
    return 0
  done < <(stat -c '%i %n' -- /var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock 2>/dev/null)
}

# panel_cloud_init_running: true while cloud-init has not finished (first boot).
panel_cloud_init_running() {
  command -v cloud-init >/dev/null 2>&1 && [ -d /run/cloud-init ] && [ ! -e /run/cloud-init/disabled ] && [ ! -e /run/cloud-init/result.json ]
}

# panel_apt_ready DEADLINE: wait for cloud-init to finish (it installs packages
# at first boot) until DEADLINE (epoch seconds); a clear failure after it.
panel_apt_ready() {
  local left
  if panel_cloud_init_running; then
    left=$(( $1 - $(date +%s) )); [ "$left" -gt 0 ] || left=1
    if ! timeout "$left" cloud-init status --wait >/dev/null 2>&1 </dev/null && panel_cloud_init_running; then
      printf 'panel: cloud-init is still running after %s s (first boot), so apt cannot be used yet: see "cloud-init status --long", then run panel again\n' "$PANEL_APT_WAIT" >&2
      return 1
    fi
  fi
}

# panel_dpkg_interrupted -> what dpkg --audit reports (packages left unpacked
# or half-configured by a dpkg that was killed or lost power), or nothing; true
# when there is something. apt-get refuses to work until "dpkg --configure -a"
# ran when dpkg's journal (/var/lib/dpkg/updates) holds entries.
panel_dpkg_interrupted() {
  local out u
  out=$(dpkg --audit 2>/dev/null)
  for u in /var/lib/dpkg/updates/[0-9]*; do
    [ -e "$u" ] && { out="${out:-the dpkg journal /var/lib/dpkg/updates is not empty}"; break; }
  done
  [ -n "$out" ] || return 1
  printf '%s\n' "$out"
}

# panel_dpkg_audit_names AUDIT -> "hello, nginx-common" (the packages dpkg --audit lists).
panel_dpkg_audit_names() {
  local n
  n=$(printf '%s\n' "$1" | awk '/^ [a-z0-9]/ { printf "%s%s", (n++ ? ", " : ""), $1 }')
  printf '%s\n' "${n:-the dpkg journal is not empty}"
}

# panel_dpkg_repair DEADLINE: when dpkg was interrupted, "dpkg --configure -a"
# (non-interactive, keeping changed conffiles, no needrestart prompt), after
# whoever holds the lock is done (it may be the one finishing the job).
panel_dpkg_repair() {
  local deadline=$1 out rc
  panel_dpkg_interrupted >/dev/null || return 0
  while [ -n "$(panel_dpkg_lock_holder)" ] && [ "$(date +%s)" -lt "$deadline" ]; do sleep 2; done
  while out=$(panel_dpkg_interrupted); do
    printf 'panel: dpkg was interrupted (%s); running dpkg --configure -a\n' "$(panel_dpkg_audit_names "$out")" >&2
    out=$(DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a NEEDRESTART_SUSPEND=1 \
      dpkg --force-confdef --force-confold --configure -a 2>&1 </dev/null); rc=$?
    [ $rc -eq 0 ] && return 0
    if panel_apt_locked "$out"; then
      if [ "$(date +%s)" -lt "$deadline" ]; then sleep 2; continue; fi
      panel_apt_lock_failure "dpkg --configure -a"; return 1
    fi
    printf 'panel: dpkg was interrupted and "dpkg --configure -a" failed (exit %s); fix it by hand, then run panel again:\n%s\n' "$rc" "$(printf '%s\n' "$out" | panel_tail 8)" >&2
    return 1
  done
}

# panel_apt_install PKG...: noninteractive install that waits for cloud-init and
# the dpkg lock (up to PANEL_APT_WAIT s), runs apt-get update only when the
# lists are missing or older than a day (or a package is not found), and
# reports apt's last stderr lines.
panel_apt_install() {
  local deadline lists_age out rc updated=0 repaired=0
  deadline=$(( $(date +%s) + PANEL_APT_WAIT ))
  panel_apt_ready "$deadline" || return 1
  panel_dpkg_repair "$deadline" || return 1
  lists_age=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)
  if [ -z "$lists_age" ]; then panel_apt_get_until "$deadline" update || return 1; updated=1; fi
  while :; do
    out=$(panel_apt_run "$deadline" -y install --no-install-recommends "$@"); rc=$?
    [ $rc -eq 0 ] && return 0
    if panel_apt_locked "$out"; then
      if [ "$(date +%s)" -lt "$deadline" ]; then sleep 2; continue; fi
      panel_apt_lock_failure "apt-get install $*"; return 1
    fi
    if [ $repaired = 0 ] && printf '%s' "$out" | grep -q 'dpkg was interrupted'; then
      panel_dpkg_repair "$deadline" || return 1; repaired=1; continue
    fi
    if [ $updated = 0 ] && printf '%s' "$out" | grep -qE 'Unable to locate package|has no installation candidate|404 +Not Found|Failed to fetch'; then
      panel_apt_get_until "$deadline" update || return 1; updated=1; continue
    fi
    printf 'panel: apt-get install %s failed (exit %s):\n%s\n' "$*" "$rc" "$(printf '%s\n' "$out" | panel_tail 8)" >&2
    return 1
  done
}

panel_apt_get() {
  local deadline
  deadline=$(( $(date +%s) + PANEL_APT_WAIT ))
  panel_apt_ready "$deadline" || return 1
  panel_dpkg_repair "$deadline" || return 1
  panel_apt_get_until "$deadline" "$@"
}

# panel_apt_run DEADLINE ARGS...: apt-get ARGS, waiting for the lock until DEADLINE; prints apt's output.
# needrestart (Ubuntu 22.04+) would ask which services to restart, from an apt
# hook with no terminal: NEEDRESTART_SUSPEND skips it during panel's runs (panel
# restarts what its own changes need), NEEDRESTART_MODE=a keeps it from asking
# should a hook run it anyway.
panel_apt_run() {
  local left
  left=$(( $1 - $(date +%s) )); [ "$left" -gt 0 ] || left=0
  shift
  DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a NEEDRESTART_SUSPEND=1 \
    apt-get -o DPkg::Lock::Timeout="$left" -q "$@" 2>&1 </dev/null
}

panel_apt_locked() { printf '%s' "$1" | grep -qE 'Could not get lock|Unable to lock|is another process using it|Unable to acquire the dpkg frontend lock|dpkg (frontend )?lock (was|is) locked by another process'; }

panel_apt_lock_failure() {
  local holder
  holder=$(panel_dpkg_lock_holder)
  printf 'panel: %s: the dpkg lock is still held after %s s%s: let it finish (or stop it), then run panel again\n' "$1" "$PANEL_APT_WAIT" "${holder:+ by $holder}" >&2
}

panel_apt_get_until() {
  local deadline=$1 out rc repaired=0
  shift
  while :; do
    out=$(panel_apt_run "$deadline" "$@"); rc=$?
    [ $rc -eq 0 ] && return 0
    if panel_apt_locked "$out"; then
      if [ "$(date +%s)" -lt "$deadline" ]; then sleep 2; continue; fi
      panel_apt_lock_failure "apt-get $*"; return 1
    fi
    if [ $repaired = 0 ] && printf '%s' "$out" | grep -q 'dpkg was interrupted'; then
      panel_dpkg_repair "$deadline" || return 1; repaired=1; continue
    fi
    printf 'panel: apt-get %s failed (exit %s):\n%s\n' "$*" "$rc" "$(printf '%s\n' "$out" | panel_tail 8)" >&2
    return 1
  done
}
