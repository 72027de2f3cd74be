/**
 * Bash functions every fact and apply script can call. The engine prepends
 * PRELUDE to each batch and sets PANEL_MODE=facts|apply|verify.
 *
 * Rules the functions follow, because they run in three different contexts:
 * - facts mode must never write anything (`panel plan` leaves the host as it
 *   was), so every write is guarded by `panel_may_write`;
 * - facts snippets run WITHOUT `set -e`, so functions report failure through
 *   their return code / output rather than relying on errexit;
 * - apply steps run with `set -euo pipefail`, but bash ignores errexit inside a
 *   subshell that is part of an `a || b` list, so functions used by apply
 *   scripts check every step explicitly (`|| return 1`) instead of trusting -e.
 * - nothing here prints a line starting with `@@panel` (the engine's markers),
 *   except panel_reboot_required, whose marker the engine collects.
 */
import { type Script, sh } from '../shell.js';

// Written with sh.raw so backslashes reach bash untouched; `\${` (needed to keep
// JS from interpolating) stands for `${`.
export const PRELUDE: Script = sh.raw`
: "\${PANEL_MODE:=facts}"
# PANEL_STATE comes from the environment only in tests that run scripts as a
# normal user on the machine itself.
: "\${PANEL_STATE:=/var/lib/panel}"
PANEL_STATE_FILE=$PANEL_STATE/state.json
PANEL_JOURNALS=$PANEL_STATE/journal
PANEL_BACKUPS=$PANEL_STATE/backups
PANEL_DOWNLOADS=/var/cache/panel/downloads
# PANEL_STAT[path]="size mtime inode sha256" from state.json (the stat cache);
# PANEL_BACKUP/PANEL_SHA[path]: what panel_put did in this step, for the record.
declare -A PANEL_STAT=() PANEL_BACKUP=() PANEL_SHA=()

panel_fail() { printf 'panel: %s\n' "$*" >&2; exit 1; }
panel_may_write() { [ "\${PANEL_MODE:-facts}" = apply ]; }

# panel_tail N: the last N non-empty lines of stdin (the one "last lines of stderr" helper).
panel_tail() { grep -v '^[[:space:]]*$' | tail -n "\${1:-8}"; }

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
    if [ -e "/etc/init.d/\${u%.service}" ]; then
      PANEL_UNIT_ENABLED[$u]=$(systemctl is-enabled -- "$u" 2>/dev/null | head -n 1)
    else rest+=("$u"); fi
  done
  while [ "\${#rest[@]}" -gt 0 ]; do
    mapfile -t out < <(systemctl is-enabled -- "\${rest[@]}" 2>/dev/null)
    n=\${#out[@]}
    for ((i = 0; i < n && i < \${#rest[@]}; i++)); do PANEL_UNIT_ENABLED[\${rest[i]}]=\${out[i]}; done
    [ "$n" -lt "\${#rest[@]}" ] || break
    PANEL_UNIT_ENABLED[\${rest[n]}]=
    rest=("\${rest[@]:n+1}")
  done
  # One block per unit, in the order asked, blank line between blocks.
  i=0
  while IFS= read -r line; do
    if [ -z "$line" ]; then i=$((i + 1)); continue; fi
    u=\${@:i+1:1}
    [ -n "$u" ] || continue
    case $line in
      ActiveState=*) PANEL_UNIT_ACTIVE[$u]=\${line#*=} ;;
      ActiveEnterTimestamp=*) PANEL_UNIT_SINCE[$u]=\${line#*=} ;;
    esac
  done < <(systemctl show -p ActiveState -p ActiveEnterTimestamp -- "$@" 2>/dev/null)
}

# panel_unit_facts UNIT -> enabled=, active=, since= (prefetched, else asked now).
panel_unit_facts() {
  local u=$1
  if [ -n "\${PANEL_UNIT_ACTIVE[$u]+set}" ] && [ -n "\${PANEL_UNIT_ENABLED[$u]+set}" ]; then
    printf 'enabled=%s\nactive=%s\nsince=%s\n' "\${PANEL_UNIT_ENABLED[$u]}" "\${PANEL_UNIT_ACTIVE[$u]}" "\${PANEL_UNIT_SINCE[$u]:-}"
    return 0
  fi
  echo "enabled=$(systemctl is-enabled "$u" 2>/dev/null | head -n 1)"
  echo "active=$(systemctl is-active "$u" 2>/dev/null | head -n 1)"
  echo "since=$(systemctl show -p ActiveEnterTimestamp --value "$u" 2>/dev/null | head -n 1)"
}

# panel_members_facts DIR MEMBER... -> "cur=SHA256 MODE MEMBER" per member
# ("-" for what is not there; sha256 "-" unless a regular file): one stat
# for all members (mode and the stat cache's key, following links as
# panel_sha256 does), a hash only on a cache miss.
panel_members_facts() {
  local into=$1 m f line sha mode
  local -a paths=()
  local -A st=()
  shift
  for m in "$@"; do paths+=("$into/$m"); done
  while IFS= read -r line; do
    mode=\${line%% *}; line=\${line#* }
    f=\${line#* * * }
    st[$f]="$mode \${line%" $f"}"
  done < <(stat -L -c '%a %s %.9Y %i %n' -- "\${paths[@]}" 2>/dev/null)
  for m in "$@"; do
    f=$into/$m
    line=\${st[$f]:-}
    if [ -z "$line" ]; then echo "cur=- - $m"; continue; fi
    mode=\${line%% *}
    if [ -f "$f" ]; then sha=$(panel_sha256_keyed "$f" "\${line#* }"); else sha=-; fi
    echo "cur=$sha $mode $m"
  done
}

# panel_last_lines N TEXT: the last N lines of TEXT, in bash (checks run on
# every converged host: no tail process per check).
panel_last_lines() {
  local -a __ll
  mapfile -t __ll <<<"$2"
  if [ "\${#__ll[@]}" -gt "$1" ]; then __ll=("\${__ll[@]: -$1}"); fi
  printf '%s\n' "\${__ll[@]}"
}

# panel_json_str TEXT -> TEXT as a JSON string; fails on control characters.
panel_json_str() {
  local s=$1
  case $s in *[[:cntrl:]]*) return 1 ;; esac
  s=\${s//\\/\\\\}
  s=\${s//\"/\\\"}
  printf '"%s"' "$s"
}

# panel_stat_key PATH -> "size mtime inode" (following symlinks), empty when absent.
# uutils stat (Ubuntu 26.04, 0.0.30 tested) prints %.9Y through a float: the last two
# digits are lost (…123456789 reads …123456700; GNU is exact). Harmless for a cache
# key: each host is read by one stat, and timestamps never differ by under 100 ns
# with the same size and inode.
panel_stat_key() { stat -L -c '%s %.9Y %i' -- "$1" 2>/dev/null; }

# panel_hash PATH -> sha256 of the bytes (reads via redirection so odd names are safe).
panel_hash() { local h; h=$(sha256sum < "$1") || return 1; printf '%s\n' "\${h%% *}"; }

# Load the path records of state.json into PANEL_STAT (one awk per script).
panel_state_load() {
  local p k
  PANEL_STAT=()
  [ -r "$PANEL_STATE_FILE" ] || return 0
  while IFS=$'\t' read -r p k; do
    [ -n "$p" ] && PANEL_STAT[$p]=$k
  done < <(awk '
    /^    "\// && /"sha256":"/ {
      if (!match($0, /"path":"[^"\\]*"/)) next; p = substr($0, RSTART + 8, RLENGTH - 9)
      if (!match($0, /"sha256":"[0-9a-f]+"/)) next; h = substr($0, RSTART + 10, RLENGTH - 11)
      if (!match($0, /"size":[0-9]+/)) next; z = substr($0, RSTART + 7, RLENGTH - 7)
      if (!match($0, /"mtime":"[0-9.]+"/)) next; m = substr($0, RSTART + 9, RLENGTH - 10)
      i = "-"; if (match($0, /"ino":[0-9]+/)) i = substr($0, RSTART + 6, RLENGTH - 6)
      printf "%s\t%s %s %s %s\n", p, z, m, i, h
    }' "$PANEL_STATE_FILE" 2>/dev/null)
}

# panel_sha256 PATH -> sha256, or "-" when PATH is not a regular file.
# A path recorded in state.json with the same size, mtime and inode is not
# rehashed (~140 MB of binaries); PANEL_DEEP=1 rehashes everything.
panel_sha256() {
  local p=$1 st
  [ -f "$p" ] || { echo -; return 0; }
  st=$(panel_stat_key "$p") || { echo -; return 0; }
  panel_sha256_keyed "$p" "$st"
}

# panel_sha256_keyed PATH KEY: panel_sha256 with PATH's stat key ("size mtime
# inode", panel_stat_key's format) already read by the caller's own stat.
panel_sha256_keyed() {
  local p=$1 st=$2 hit
  if [ -z "\${PANEL_DEEP:-}" ]; then
    hit=\${PANEL_STAT[$p]:-}
    if [ -n "$hit" ] && [ "\${hit% *}" = "$st" ]; then printf '%s\n' "\${hit##* }"; return 0; fi
  fi
  panel_hash "$p" || echo -
}

# --- the state record: journal lines now, one atomic merge per round trip ---

# panel_state_begin: start the round trip's journal; its EXIT trap merges it
# into state.json however the script ends. Also folds in the records of
# earlier panel versions (pending-restart markers; statcache and archive
# records are dropped: the stat cache refills, archives are re-verified).
panel_state_begin() {
  local f u
  panel_may_write || return 0
  mkdir -p "$PANEL_JOURNALS" && chmod 0700 "$PANEL_JOURNALS" || return 1
  PANEL_JOURNAL=$(mktemp "$PANEL_JOURNALS/$(date -u +%Y%m%dT%H%M%S).XXXXXX") || return 1
  export PANEL_JOURNAL
  # A record that cannot be written (a full or read-only /var) fails the run
  # with one line naming the file; the old record and the journal stay, so the
  # next run merges what this one did.
  trap 'panel_state_flush_or_fail' EXIT
  if [ -d "$PANEL_STATE/pending-restart" ]; then
    for f in "$PANEL_STATE"/pending-restart/*; do
      [ -f "$f" ] || continue
      u=\${f##*/}
      if [ "$(head -n 1 "$f")" = reload ]; then panel_state_set pending "$u" '{"action":"reload"}'; else panel_state_set pending "$u" '{"action":"restart"}'; fi
    done
    panel_state_flush && rm -rf -- "$PANEL_STATE/pending-restart"
  fi
  rm -rf -- "$PANEL_STATE/statcache" "$PANEL_STATE/archives"
}

# EXIT trap of an apply script: merge the journal (its failure is one line,
# from panel_state_flush); a failed merge fails the run, whatever the
# script's own status was.
panel_state_flush_or_fail() {
  local rc=$?
  panel_state_flush && return "$rc"
  exit 1
}

# panel_state_reset: the merge forgets every entry journaled or recorded before this line (a rebuilt record follows).
panel_state_reset() {
  panel_may_write || return 0
  [ -n "\${PANEL_JOURNAL:-}" ] || panel_fail "state journal not started"
  printf 'reset\n' >> "$PANEL_JOURNAL"
}

# panel_state_set SECTION ID JSON: journal an entry (JSON: one-line object; "at" is added).
panel_state_set() {
  local id v
  panel_may_write || return 0
  [ -n "\${PANEL_JOURNAL:-}" ] || panel_fail "state journal not started"
  id=$(panel_json_str "$2") || return 0
  v=$3
  v="\${v%\}},\"at\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\"}"
  printf 'set\t%s\t%s\t%s\n' "$1" "$id" "$v" >> "$PANEL_JOURNAL"
}

# panel_state_del SECTION ID
panel_state_del() {
  local id
  panel_may_write || return 0
  [ -n "\${PANEL_JOURNAL:-}" ] || panel_fail "state journal not started"
  id=$(panel_json_str "$2") || return 0
  printf 'del\t%s\t%s\n' "$1" "$id" >> "$PANEL_JOURNAL"
}

# panel_state_flush: merge every journal into state.json (temp file + rename),
# under a lock. A failure (a full or read-only file system) is one line naming
# the file; state.json stays as it was and the journal stays for the next run.
panel_state_flush() {
  local why
  panel_may_write || return 0
  if why=$( {
    mkdir -p "$PANEL_STATE" || exit 1
    if command -v flock >/dev/null 2>&1; then
      ( flock -w 60 9 || true; panel_state_merge ) 9>"$PANEL_STATE/.state.lock"
    else
      panel_state_merge
    fi
  } 2>&1 ); then return 0; fi
  printf 'panel: writing %s failed: %s; the previous record is unchanged\n' "$PANEL_STATE_FILE" "$(printf '%s\n' "\${why:-the merge failed}" | panel_tail 1)" >&2
  return 1
}

panel_state_merge() {
  local tmp j
  local -a js=() in=()
  for j in "$PANEL_JOURNALS"/*; do [ -f "$j" ] && js+=("$j"); done
  [ \${#js[@]} -gt 0 ] || return 0
  [ -f "$PANEL_STATE_FILE" ] && in=("$PANEL_STATE_FILE")
  tmp=$(mktemp "$PANEL_STATE/.state.XXXXXX") || return 1
  if ! awk -v now="$(date -u +%Y-%m-%dT%H:%M:%SZ)" -v statefile="$PANEL_STATE_FILE" '
    function keyend(line,   i, n, c) {
      n = length(line)
      for (i = 6; i <= n; i++) { c = substr(line, i, 1); if (c == "\\") { i++; continue } if (c == "\"") return i }
      return 0
    }
    # A record keeps what was true before panel first touched the thing.
    function keep(old, val, re,   o) {
      if (!match(old, re)) return val
      o = substr(old, RSTART, RLENGTH)
      if (match(val, re)) val = substr(val, 1, RSTART - 1) o substr(val, RSTART + RLENGTH)
      return val
    }
    function put(sec, id, val) {
      if (!((sec, id) in V)) { N[sec]++; K[sec, N[sec]] = id }
      else if (sec == "records" && !D[sec, id]) {
        val = keep(V[sec, id], val, "\"existed\":(true|false)")
        val = keep(V[sec, id], val, "\"backup\":(null|\"([^\"\\\\]|\\\\.)*\")")
        val = keep(V[sec, id], val, "\"previous\":(null|\"([^\"\\\\]|\\\\.)*\")")
      }
      V[sec, id] = val; D[sec, id] = 0
    }
    FILENAME == statefile {
      if (match($0, /^  "(records|pending|artifacts)": \{/)) { sec = substr($0, 4, RLENGTH - 7); next }
      # Only whole entry lines: a record cut short (a full disk, an editor) loses its broken line, never the file.
      if (sec != "" && substr($0, 1, 5) == "    \"" && $0 ~ /\},?$/) {
        e = keyend($0); if (e == 0) next
        val = substr($0, e + 3); sub(/,$/, "", val)
        put(sec, substr($0, 5, e - 4), val); next
      }
      if ($0 ~ /^  \}/) sec = ""
      next
    }
    {
      n = split($0, f, "\t")
      if (f[1] == "set" && n >= 4) put(f[2], f[3], f[4])
      else if (f[1] == "del" && n >= 3 && ((f[2], f[3]) in V)) D[f[2], f[3]] = 1
      else if (f[1] == "reset") { split("", V); split("", N); split("", K); split("", D) }
    }
    END {
      print "{"
      print "  \"schema\": \"panel-state\","
      print "  \"version\": 1,"
      printf "  \"updated\": \"%s\",\n", now
      ns = split("records pending artifacts", S, " ")
      for (s = 1; s <= ns; s++) {
        sec = S[s]; printf "  \"%s\": {\n", sec
        last = 0; for (i = 1; i <= N[sec]; i++) if (!D[sec, K[sec, i]]) last = i
        for (i = 1; i <= N[sec]; i++) { id = K[sec, i]; if (D[sec, id]) continue; printf "    %s: %s%s\n", id, V[sec, id], (i == last ? "" : ",") }
        printf "  }%s\n", (s == ns ? "" : ",")
      }
      print "}"
    }' "\${in[@]}" "\${js[@]}" > "$tmp"; then rm -f -- "$tmp"; return 1; fi
  chmod 0600 "$tmp" && mv -f -- "$tmp" "$PANEL_STATE_FILE" || { rm -f -- "$tmp"; return 1; }
  rm -f -- "\${js[@]}"
}

# panel_record_path KIND PATH EXISTED: journal a file panel wrote in this
# step (measured now), for PANEL_RECIPE/PANEL_RESOURCE (set by the engine per
# step). The merge keeps "existed" and "backup" of the first record.
panel_record_path() {
  local kind=$1 p=$2 ex=false st size mtime ino sha pj bj=null b
  panel_may_write || return 0
  [ -f "$p" ] || return 0
  st=$(panel_stat_key "$p") || return 0
  read -r size mtime ino <<<"$st"
  sha=\${PANEL_SHA[$p]:-}
  [ -n "$sha" ] || sha=$(panel_hash "$p") || return 1
  pj=$(panel_json_str "$p") || return 0
  b=\${PANEL_BACKUP[$p]:-}
  [ -z "$b" ] || bj=$(panel_json_str "$b") || bj=null
  [ "$3" = 1 ] && ex=true
  panel_state_set records "$p" "{\"kind\":\"$kind\",$(panel_owner_json),\"path\":$pj,\"sha256\":\"$sha\",\"size\":$size,\"mtime\":\"$mtime\",\"ino\":$ino,\"existed\":$ex,\"backup\":$bj}"
}

# panel_tree_digest DIR -> "<sha256> <entries>": the type, mode, size (not
# for directories: file-system dependent), mtime, path and link target of
# everything below DIR. A fixed number of processes whatever the number of
# files (one find, one sort), so a no-op over 10^4 files stays cheap.
panel_tree_digest() {
  local l
  [ -d "$1" ] || return 1
  l=$(cd -- "$1" && find . -mindepth 1 \( -type d -printf '%y %m - %T@ %P\n' \) -o -printf '%y %m %s %T@ %P -> %l\n' | LC_ALL=C sort) || return 1
  printf '%s %s\n' "$(printf '%s\n' "$l" | sha256sum | cut -d' ' -f1)" "$(printf '%s\n' "$l" | grep -c '')"
}

# panel_record_tree ID URL SHA256 INTO "DIGEST ENTRIES" BACKUP MEMBER...: journal
# an archive extracted as a directory of its own (one record for the tree).
panel_record_tree() {
  local id=$1 sha=$3 uj ij bj=null mj= m d n
  panel_may_write || return 0
  uj=$(panel_json_str "$2") || return 1
  ij=$(panel_json_str "$4") || return 1
  read -r d n <<<"$5"
  [ -z "$6" ] || bj=$(panel_json_str "$6") || return 1
  shift 6
  for m in "$@"; do mj="$mj\${mj:+,}$(panel_json_str "$m")" || return 1; done
  panel_state_set records "$id" "{\"kind\":\"archive\",$(panel_owner_json),\"url\":$uj,\"sha256\":\"$sha\",\"into\":$ij,\"members\":[$mj],\"tree\":{\"digest\":\"$d\",\"entries\":$n,\"backup\":$bj}}"
}

# panel_record_dir PATH EXISTED
panel_record_dir() {
  local pj ex=false
  panel_may_write || return 0
  pj=$(panel_json_str "$1") || return 0
  [ "$2" = 1 ] && ex=true
  panel_state_set records "$1" "{\"kind\":\"directory\",$(panel_owner_json),\"path\":$pj,\"existed\":$ex}"
}

panel_owner_json() {
  printf '"recipe":%s,"resource":%s' "$(panel_json_str "\${PANEL_RECIPE:-}")" "$(panel_json_str "\${PANEL_RESOURCE:-}")"
}

# panel_pending_set UNIT restart|reload: recorded AND merged at once, before
# any change of the round trip, so an interrupted run still restarts next time.
panel_pending_set() {
  panel_state_set pending "$1" "{\"action\":\"$2\"}" && panel_state_flush
}
panel_pending_clear() { panel_state_del pending "$1"; }

# panel_file_facts PATH WITH_CONTENT [WANT_SHA] -> key=value lines: exists,
# type, mode, owner, uid, group, gid, size, sha256 and (WITH_CONTENT=1,
# regular file <= 256 KiB, its sha256 not WANT_SHA) content=<base64>, for the
# diff. One stat process per path (its last line is the stat cache's key; a
# regular file is no symlink, so lstat and stat agree); a converged file
# costs no hash and no base64.
panel_file_facts() {
  local p=$1 wc=\${2:-0} want=\${3:-} t out key sha
  if [ -L "$p" ]; then t=symlink
  elif [ -f "$p" ]; then t=file
  elif [ -d "$p" ]; then t=directory
  elif [ -e "$p" ]; then t=other
  else echo exists=0; return 0; fi
  echo exists=1
  echo "type=$t"
  out=$(stat -c $'mode=%a\nowner=%U\nuid=%u\ngroup=%G\ngid=%g\nsize=%s\n%s %.9Y %i' -- "$p") || return 1
  key=\${out##*$'\n'}
  printf '%s\n' "\${out%$'\n'*}"
  if [ "$t" = file ]; then
    sha=$(panel_sha256_keyed "$p" "$key")
    echo "sha256=$sha"
    if [ "$wc" = 1 ] && [ "\${key%% *}" -le 262144 ] && [ "$sha" != "$want" ]; then
      printf 'content='; base64 -w0 < "$p"; echo
    fi
  fi
}

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
  name=\${p//\//%}
  b="$dir/$name.$(date -u +%Y%m%dT%H%M%S.%NZ)"
  cp -P -p -- "$p" "$b" || return 1
  all=("$dir/$name".[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9].[0-9]*Z)
  n=\${#all[@]}
  # Never one the record points at (the version from before panel): uninstall restores it.
  if [ "$n" -gt 5 ]; then
    for o in "\${all[@]:1:n-5}"; do
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
  local tmp=$1 p=$2 mode=$3 owner=$4 group=$5 policy=$6 validate=\${7:-} out b=
  panel_own "$tmp" "$mode" "$owner" "$group" || { rm -f -- "$tmp"; return 1; }
  if [ -d "$p" ] && [ ! -L "$p" ]; then rm -f -- "$tmp"; panel_fail "$p is a directory, refusing to replace it with a file"; fi
  if [ -n "$validate" ]; then
    if ! out=$( set -- "$tmp" "$p"; eval "$validate" 2>&1 </dev/null ); then
      rm -f -- "$tmp"
      printf 'panel: validation failed for %s; the live file is unchanged:\n%s\n' "$p" "$(printf '%s\n' "$out" | panel_tail 12)" >&2
      return 1
    fi
  fi
  case $policy in
    always) b=$(panel_backup "$p") || { rm -f -- "$tmp"; return 1; } ;;
    first) if [ -z "\${PANEL_STAT[$p]:-}" ]; then b=$(panel_backup "$p") || { rm -f -- "$tmp"; return 1; }; fi ;;
  esac
  # rename, not write: a running binary is replaced without "text file busy".
  mv -f -- "$tmp" "$p" || { rm -f -- "$tmp"; return 1; }
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

# panel_reboot_required PATH [WHY]: something panel could not free (a busy
# mount, a process that will not die); the run reports it and exits non-zero.
panel_reboot_required() { printf '@@panel-reboot-required %s%s\n' "$1" "\${2:+ ($2)}"; }

# panel_write PATH MODE OWNER GROUP BACKUP VALIDATE FILL: a temp file beside
# PATH (0600 from the start: secrets never sit readable), filled by the shell
# FILL (stdout → the temp file), then panel_put.
# A failure (a full disk: ENOSPC) is one line naming PATH and the reason, with
# no temp file left behind and PATH untouched.
panel_write() {
  local p=$1 tmp err
  # On success panel_tmp_beside prints only the path; on failure, its error.
  if ! tmp=$(panel_tmp_beside "$p" 2>&1); then
    printf 'panel: writing %s failed: %s\n' "$p" "$(printf '%s\n' "$tmp" | panel_tail 1)" >&2
    return 1
  fi
  if ! err=$( { ( eval "$7" ) > "$tmp"; } 2>&1 ); then
    # A full disk is named whatever the writer's last words: GNU base64 says "write error:
    # No space left on device" once, then a bare "write error" at exit; a writer that lost
    # errno is caught by the free blocks of PATH's filesystem (0 while the temp file holds them).
    if [[ $err == *'No space left on device'* ]]; then
      err="$(printf '%s\n' "$err" | grep -m1 -F 'No space left on device')"
    elif [ "$(stat -f -c %a -- "$tmp" 2>/dev/null)" = 0 ]; then
      err="$(printf '%s\n' "$err" | panel_tail 1): No space left on device"
    fi
    rm -f -- "$tmp"
    printf 'panel: writing %s failed: %s\n' "$p" "$(printf '%s\n' "\${err:-the content could not be produced}" | panel_tail 1)" >&2
    return 1
  fi
  panel_put "$tmp" "$p" "$2" "$3" "$4" "$5" "$6"
}

# panel_nginx_test CANDIDATE TARGET: 'nginx -t' of the configuration as it
# would be with CANDIDATE in place of TARGET — a temporary main config (beside
# nginx.conf, so relative includes resolve) whose include lines list every
# file they match except TARGET, plus CANDIDATE. The live files are untouched.
panel_nginx_test() {
  local cand=$1 target=$2 conf=\${PANEL_NGINX_CONF:-/etc/nginx/nginx.conf} dir t line pat ind f hit rc=0 swapped=0
  dir=$(dirname -- "$conf")
  t=$(mktemp "$dir/.panel-validate.XXXXXXXX") || return 1
  while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line =~ ^([[:space:]]*)include[[:space:]]+([^\;[:space:]]+)[[:space:]]*\;[[:space:]]*$ ]]; then
      ind=\${BASH_REMATCH[1]}
      pat=\${BASH_REMATCH[2]}
      [[ $pat = /* ]] || pat="$dir/$pat"
      hit=0
      if [[ $target == $pat ]]; then hit=1; fi
      if [ "$hit" = 1 ]; then
        for f in $pat; do
          if [ "$f" != "$target" ] && [ -e "$f" ]; then printf '%sinclude %s;\n' "$ind" "$f"; fi
        done
        printf '%sinclude %s;\n' "$ind" "$cand"
        swapped=1
        continue
      fi
    fi
    printf '%s\n' "$line"
  done < "$conf" > "$t"
  if [ "$swapped" = 0 ]; then rm -f -- "$t"; printf '%s is not included by %s; cannot test it\n' "$target" "$conf"; return 1; fi
  nginx -t -c "$t" || rc=$?
  rm -f -- "$t"
  return "$rc"
}

# panel_unit_journal UNIT: why a unit is down: its state, then the last 20
# lines of its journal, indented, under a header line the engine keeps whole
# in the error (src/engine/batch.ts failureTail).
panel_unit_journal() {
  printf 'panel: %s is %s; last lines of its journal (journalctl -u %s -n 20):\n' "$1" "$(systemctl is-active "$1" 2>/dev/null | head -n 1)" "$1"
  journalctl -u "$1" -n 20 --no-pager -q 2>&1 </dev/null | cut -c 1-300 | sed 's/^/  /'
}

# panel_units_active UNIT...: verify: 'systemctl is-active UNIT...'; when one
# is not active, the journal of each unit that is not.
panel_units_active() {
  local u rc=0
  systemctl is-active "$@" || rc=$?
  [ "$rc" -eq 0 ] && return 0
  for u in "$@"; do systemctl is-active --quiet "$u" || panel_unit_journal "$u"; done
  return "$rc"
}

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

# panel_fetch URL OUT: download with curl, else wget; file:// also via cp.
# Only transient failures are retried: a timeout or stall, a refused connection,
# HTTP 408, 429, 500, 502, 503 and 504 (curl's --retry set, plus
# --retry-connrefused for a mirror that is restarting). Any other HTTP error
# (404, 403, 410, ...) fails at once: the file is not there, and asking again
# does not change that. curl waits 1, 2, 4 s between its 3 retries (its own
# exponential backoff, which a fixed --retry-delay would turn off). A mirror
# that trickles under 1 KiB/s for 20 s counts as a timeout, and no retry
# starts after 60 s, so a slow mirror fails in about 65 s naming the URL
# instead of hanging the run; a big file on a slow but moving link is never
# cut off (no --max-time). GNU wget (the fallback) retries the same statuses
# with a linear 1..3 s wait; it has no speed floor, only a 20 s stall timeout.
# The error is one line: the URL and the last line the tool printed (the final attempt's).
panel_fetch() {
  local url=$1 out=$2 err
  if command -v curl >/dev/null 2>&1; then
    err=$(curl -fsSL --retry 3 --retry-connrefused --retry-max-time 60 --connect-timeout 20 --speed-limit 1024 --speed-time 20 -o "$out" -- "$url" 2>&1) && return 0
  elif command -v wget >/dev/null 2>&1; then
    # Verbose (-nv hides the status of a retried answer); only the lines that say what went wrong are kept.
    err=$(wget --progress=dot:giga -O "$out" --tries=4 --waitretry=3 --retry-connrefused --retry-on-http-error=408,429,500,502,503,504 --connect-timeout=20 --read-timeout=20 -- "$url" 2>&1) && return 0
    err=$(printf '%s\n' "$err" | grep -E 'ERROR|awaiting response\.\.\. [0-9]|failed|timed out|[Uu]nable' || printf '%s\n' "$err")
  elif [ "\${url#file://}" != "$url" ]; then
    err=$(cp -- "\${url#file://}" "$out" 2>&1) && return 0
  else
    err="neither curl nor wget is installed"
  fi
  printf 'panel: download of %s failed: %s\n' "$url" "$(printf '%s\n' "$err" | panel_tail 1)" >&2
  return 1
}

# panel_fetch_verified URL SHA -> prints the path of a verified copy in the
# download cache (/var/cache/panel/downloads/SHA), fetching only when missing.
panel_fetch_verified() {
  local url=$1 want=$2 c got tmp
  c="$PANEL_DOWNLOADS/$want"
  if [ -f "$c" ] && [ "$(panel_sha256 "$c")" = "$want" ]; then printf '%s\n' "$c"; return 0; fi
  mkdir -p "$PANEL_DOWNLOADS" || return 1
  tmp=$(mktemp "$PANEL_DOWNLOADS/.fetch.XXXXXXXX") || return 1
  if ! panel_fetch "$url" "$tmp"; then rm -f "$tmp"; return 1; fi
  got=$(panel_hash "$tmp") || { rm -f "$tmp"; return 1; }
  if [ "$got" != "$want" ]; then
    rm -f "$tmp"
    printf 'panel: checksum mismatch for %s: expected %s, got %s\n' "$url" "$want" "$got" >&2
    return 1
  fi
  mv -f "$tmp" "$c" || { rm -f "$tmp"; return 1; }
  printf '%s\n' "$c"
}

# How long apt steps wait, in all, for cloud-init and the dpkg lock (seconds).
: "\${PANEL_APT_WAIT:=600}"

# panel_dpkg_lock_holder -> "NAME (pid N)" of the process holding one of
# dpkg's or apt's locks (read from /proc/locks, so nothing is locked or
# written), or nothing when they are free.
# /proc/locks is read by bash (a line per lock: "… PID MAJ:MIN:INODE …"; "->"
# lines are waiters); the lock files' inodes come from one stat, and only
# when some lock is held at all.
panel_dpkg_lock_holder() {
  local f ino pid name i line
  local -a w
  local -A held=()
  while read -r -a w; do
    [ "\${w[1]:-}" = '->' ] && continue
    for ((i = 1; i < \${#w[@]}; i++)); do
      if [[ \${w[i]} =~ ^[0-9a-f]+:[0-9a-f]+:([0-9]+)$ ]]; then
        [ -n "\${held[\${BASH_REMATCH[1]}]+set}" ] || held[\${BASH_REMATCH[1]}]=\${w[i-1]}
        break
      fi
    done
  done </proc/locks 2>/dev/null
  [ "\${#held[@]}" -gt 0 ] || return 0
  while IFS= read -r line; do
    ino=\${line%% *}; f=\${line#* }
    pid=\${held[$ino]:-}
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
    [ -e "$u" ] && { out="\${out:-the dpkg journal /var/lib/dpkg/updates is not empty}"; break; }
  done
  [ -n "$out" ] || return 1
  printf '%s\n' "$out"
}

# panel_dpkg_audit_names AUDIT -> "hello, nginx-common" (the packages dpkg --audit lists).
panel_dpkg_audit_names() {
  local n
  n=$(printf '%s\n' "$1" | awk '/^ [a-z0-9]/ { printf "%s%s", (n++ ? ", " : ""), $1 }')
  printf '%s\n' "\${n:-the dpkg journal is not empty}"
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
  printf 'panel: %s: the dpkg lock is still held after %s s%s: let it finish (or stop it), then run panel again\n' "$1" "$PANEL_APT_WAIT" "\${holder:+ by $holder}" >&2
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
panel_state_load || true
if panel_may_write; then panel_state_begin || panel_fail "cannot start the state journal in $PANEL_JOURNALS"; fi
`;
