# shellcheck shell=bash
# The one atomic write: temp file beside the target, validation on it, backup, rename; and restoring a backup.
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# PANEL_BACKUP[path]: the backup panel_put made in this step, for the record.
declare -A PANEL_BACKUP=()
# shellcheck disable=SC2153 # PANEL_STATE is set by shell/state.sh, earlier in the same prelude
PANEL_BACKUPS=$PANEL_STATE/backups

# panel_tmp_beside PATH -> a new temp file in PATH's directory (created if
# missing), so the final rename is atomic (same filesystem). The name never
# ends in .conf/.service, so no 'include *.conf' or unit glob picks it up.
panel_tmp_beside() {
  local d
  d=$(dirname -- "$1")
  mkdir -p -- "$d" || return 1
  mktemp "$d/.panel-tmp.XXXXXXXX"
}

# panel_backup PATH -> prints the backup path (nothing when PATH is not a
# regular file). Keeps the first backup of a path (the version before panel
# first replaced it), the last 4, and every one state.json points at.
panel_backup() {
  local p=$1 dir=$PANEL_BACKUPS name b n o
  local -a all
  # A symlink (Debian's sites-enabled/default) is kept as the link itself.
  { [ -f "$p" ] || [ -L "$p" ]; } || return 0
  mkdir -p "$dir" && chmod 700 "$dir" || return 1
  name=${p//\//%}
  b="$dir/$name.$(date -u +%Y%m%dT%H%M%S.%NZ)"
  cp -P -p -- "$p" "$b" || return 1
  all=("$dir/$name".[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9].[0-9]*Z)
  n=${#all[@]}
  # Never one the record points at (the version from before panel): uninstall restores it.
  if [ "$n" -gt 5 ]; then
    for o in "${all[@]:1:n-5}"; do
      [ -r "$PANEL_STATE_FILE" ] && grep -qF -- "\"$o\"" "$PANEL_STATE_FILE" && continue
      rm -f -- "$o" || true
    done
  fi
  printf '%s\n' "$b"
}

# panel_own PATH MODE OWNER GROUP: chmod + chown (MODE octal, e.g. 0644; "-" keeps the mode, OWNER "-" the owner).
panel_own() {
  if [ "$2" != - ]; then chmod "$2" -- "$1" || return 1; fi
  if [ "$3" != - ]; then chown "$3:$4" -- "$1" || return 1; fi
}

# panel_put TMP PATH MODE OWNER GROUP BACKUP [VALIDATE]: THE atomic write.
# Ownership is set on TMP, then VALIDATE runs on TMP — before it is live,
# with "$1" = TMP and "$2" = PATH (e.g. 'panel_nginx_test "$1" "$2"'); a
# failure removes TMP and leaves PATH exactly as it was. Then PATH is backed
# up (BACKUP: always | first = only a version panel never recorded | never)
# and TMP is renamed over it: readers see the old or the new file, never a
# mix, never an invalid one. Remembers the backup for the state record.
panel_put() {
  local tmp=$1 p=$2 mode=$3 owner=$4 group=$5 policy=$6 validate=${7:-} out b=
  panel_own "$tmp" "$mode" "$owner" "$group" || { rm -f -- "$tmp"; return 1; }
  if [ -d "$p" ] && [ ! -L "$p" ]; then rm -f -- "$tmp"; panel_fail "$p is a directory, refusing to replace it with a file"; fi
  if [ -n "$validate" ]; then
    if ! out=$( set -- "$tmp" "$p"; eval "$validate" 2>&1 </dev/null ); then
      rm -f -- "$tmp"
      printf 'panel: validation failed for %s; the live file is unchanged:\n%s\n' "$p" "$(printf '%s\n' "$out" | panel_tail 12)" >&2
      return 1
    fi
  fi
  # Nothing at PATH (panel_backup's own test): nothing to back up, and no subshell to learn that.
  if [ -f "$p" ] || [ -L "$p" ]; then
    case $policy in
      always) b=$(panel_backup "$p") || { rm -f -- "$tmp"; return 1; } ;;
      first) if [ -z "${PANEL_STAT[$p]:-}" ]; then b=$(panel_backup "$p") || { rm -f -- "$tmp"; return 1; }; fi ;;
    esac
  fi
  # rename, not write: a running binary is replaced without "text file busy".
  mv -f -- "$tmp" "$p" || { rm -f -- "$tmp"; return 1; }
  # shellcheck disable=SC2034 # read by panel_record_path (shell/state.sh) for the state record
  [ -z "$b" ] || PANEL_BACKUP[$p]=$b
}

# panel_restore BACKUP PATH: put the version from before panel back (uninstall),
# atomically; a symlink comes back as the same symlink.
panel_restore() {
  local b=$1 p=$2 tmp
  [ -e "$b" ] || [ -L "$b" ] || panel_fail "backup $b of $p is missing; $p left as it is"
  tmp=$(panel_tmp_beside "$p") || return 1
  rm -f -- "$tmp"
  cp -P -p -- "$b" "$tmp" || { rm -f -- "$tmp"; return 1; }
  mv -f -T -- "$tmp" "$p" || { rm -f -- "$tmp"; return 1; }
}

# panel_fill PATH FILL -> the path of a new temp file beside PATH (0600 from
# the start: secrets never sit readable), filled by the shell FILL (its stdout).
# A failure (a full disk: ENOSPC) is one line naming PATH and the reason, with
# no temp file left behind.
panel_fill() {
  local p=$1 tmp err
  # On success panel_tmp_beside prints only the path; on failure, its error.
  if ! tmp=$(panel_tmp_beside "$p" 2>&1); then
    printf 'panel: writing %s failed: %s\n' "$p" "$(printf '%s\n' "$tmp" | panel_tail 1)" >&2
    return 1
  fi
  if ! err=$( { ( eval "$2" ) > "$tmp"; } 2>&1 ); then
    # A full disk is named whatever the writer's last words: GNU base64 says "write error:
    # No space left on device" once, then a bare "write error" at exit; a writer that lost
    # errno is caught by the free blocks of PATH's filesystem (0 while the temp file holds them).
    if [[ $err == *'No space left on device'* ]]; then
      err="$(printf '%s\n' "$err" | grep -m1 -F 'No space left on device')"
    elif [ "$(stat -f -c %a -- "$tmp" 2>/dev/null)" = 0 ]; then
      err="$(printf '%s\n' "$err" | panel_tail 1): No space left on device"
    fi
    rm -f -- "$tmp"
    printf 'panel: writing %s failed: %s\n' "$p" "$(printf '%s\n' "${err:-the content could not be produced}" | panel_tail 1)" >&2
    return 1
  fi
  printf '%s\n' "$tmp"
}

# panel_write PATH MODE OWNER GROUP BACKUP VALIDATE FILL: one file, filled
# (panel_fill), then panel_put. Called by the scripts src/resources/write.ts
# builds, never by hand. A failure leaves PATH untouched.
panel_write() {
  local tmp
  tmp=$(panel_fill "$1" "$7") || return 1
  panel_put "$tmp" "$1" "$2" "$3" "$4" "$5" "$6"
}

# Several files as one unit (src/resources/write.ts writeUnit): each is
# filled and owned in its temp file (panel_unit_add), then all are validated
# together and renamed into place (panel_unit_commit). Nothing is live until
# every file is ready and the validator accepted them all.
# PANEL_UNIT: TEMP PATH BACKUP, for each file added, in order.
PANEL_UNIT=()
panel_unit_begin() { PANEL_UNIT=(); }

# panel_unit_drop: remove every temp file of the unit (nothing was live).
panel_unit_drop() {
  local i
  for ((i = 0; i < ${#PANEL_UNIT[@]}; i += 3)); do rm -f -- "${PANEL_UNIT[i]}"; done
  PANEL_UNIT=()
}

# panel_unit_add PATH MODE OWNER GROUP BACKUP FILL: one file of the unit,
# filled and owned, not live. A failure drops the whole unit.
panel_unit_add() {
  local tmp
  if [ -d "$1" ] && [ ! -L "$1" ]; then panel_unit_drop; panel_fail "$1 is a directory, refusing to replace it with a file"; fi
  tmp=$(panel_fill "$1" "$6") || { panel_unit_drop; return 1; }
  PANEL_UNIT+=("$tmp" "$1" "$5")
  panel_own "$tmp" "$2" "$3" "$4" || { panel_unit_drop; return 1; }
}

# panel_unit_commit VALIDATE: VALIDATE runs once with "$@" = TEMP PATH TEMP
# PATH ... (every file of the unit); a failure removes every temp file and
# leaves every live file exactly as it was. Then each file is backed up
# (its BACKUP policy) and renamed into place, in the order added.
panel_unit_commit() {
  local validate=$1 out i rc=0
  local -a pairs=() paths=()
  for ((i = 0; i < ${#PANEL_UNIT[@]}; i += 3)); do
    pairs+=("${PANEL_UNIT[i]}" "${PANEL_UNIT[i + 1]}")
    paths+=("${PANEL_UNIT[i + 1]}")
  done
  if [ -n "$validate" ]; then
    if ! out=$( set -- "${pairs[@]}"; eval "$validate" 2>&1 </dev/null ); then
      panel_unit_drop
      printf 'panel: validation failed for %s; the live files are unchanged:\n%s\n' "${paths[*]}" "$(printf '%s\n' "$out" | panel_tail 12)" >&2
      return 1
    fi
  fi
  # Ownership is set: panel_put's "-" keeps it.
  for ((i = 0; i < ${#PANEL_UNIT[@]}; i += 3)); do
    if [ "$rc" = 0 ]; then
      panel_put "${PANEL_UNIT[i]}" "${PANEL_UNIT[i + 1]}" - - - "${PANEL_UNIT[i + 2]}" || rc=1
    else
      rm -f -- "${PANEL_UNIT[i]}"
    fi
  done
  PANEL_UNIT=()
  return "$rc"
}
