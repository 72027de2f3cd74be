# shellcheck shell=bash
# The host-state record (state.json): the stat cache, the journal of one round trip and its merge.
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# PANEL_STATE comes from the environment only in tests that run scripts as a
# normal user on the machine itself.
: "${PANEL_STATE:=/var/lib/panel}"
PANEL_STATE_FILE=$PANEL_STATE/state.json
PANEL_JOURNALS=$PANEL_STATE/journal
# PANEL_STAT[path]="size mtime inode sha256" from state.json (the stat cache);
# PANEL_SHA[path]: a sha256 a step already knows, for the record.
declare -A PANEL_STAT=() PANEL_SHA=()

# panel_stat_key PATH -> "size mtime inode" (following symlinks), empty when absent.
# uutils stat (Ubuntu 26.04, 0.0.30 tested) prints %.9Y through a float: the last two
# digits are lost (…123456789 reads …123456700; GNU is exact). Harmless for a cache
# key: each host is read by one stat, and timestamps never differ by under 100 ns
# with the same size and inode.
panel_stat_key() { stat -L -c '%s %.9Y %i' -- "$1" 2>/dev/null; }

# panel_hash_set VAR PATH: sha256 of PATH's bytes in VAR, in the caller's shell
# (one subshell; read via redirection so odd names are safe); no locals, so no
# name of the caller's is shadowed.
panel_hash_set() {
  printf -v "$1" '%s' "$(sha256sum < "$2")"
  [[ ${!1} =~ ^[0-9a-f]{64}\  ]] || return 1
  printf -v "$1" '%s' "${!1%% *}"
}

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
  panel_sha256_set "$1" "$2"
  printf '%s\n' "$PANEL_SUM"
}

# panel_sha256_set PATH KEY: panel_sha256_keyed's answer in PANEL_SUM, in the
# caller's shell: a stat-cache hit costs no subshell.
panel_sha256_set() {
  if panel_stat_hit "$1" "$2"; then PANEL_SUM=$PANEL_HIT; else panel_hash_set PANEL_SUM "$1" || PANEL_SUM=-; fi
}

# panel_stat_hit PATH KEY: true, with PANEL_HIT set to the sha256 state.json
# records for PATH, when KEY is the stat key recorded with it (never under
# PANEL_DEEP). In the caller's shell: no subshell for a converged file.
panel_stat_hit() {
  local hit
  [ -z "${PANEL_DEEP:-}" ] || return 1
  hit=${PANEL_STAT[$1]:-}
  [ -n "$hit" ] && [ "${hit% *}" = "$2" ] || return 1
  PANEL_HIT=${hit##* }
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
      u=${f##*/}
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
  panel_units_flush
  panel_state_flush && return "$rc"
  exit 1
}

# panel_state_reset: the merge forgets every entry journaled or recorded before this line (a rebuilt record follows).
panel_state_reset() {
  panel_may_write || return 0
  [ -n "${PANEL_JOURNAL:-}" ] || panel_fail "state journal not started"
  printf 'reset\n' >> "$PANEL_JOURNAL"
}

# panel_state_set SECTION ID JSON: journal an entry (JSON: one-line object; "at" is added).
panel_state_set() {
  local id v at
  panel_may_write || return 0
  [ -n "${PANEL_JOURNAL:-}" ] || panel_fail "state journal not started"
  panel_json_set id "$2" || return 0
  panel_utc_set at '%Y-%m-%dT%H:%M:%SZ'
  v=$3
  v="${v%\}},\"at\":\"$at\"}"
  printf 'set\t%s\t%s\t%s\n' "$1" "$id" "$v" >> "$PANEL_JOURNAL"
}

# panel_state_del SECTION ID
panel_state_del() {
  local id
  panel_may_write || return 0
  [ -n "${PANEL_JOURNAL:-}" ] || panel_fail "state journal not started"
  panel_json_set id "$2" || return 0
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
  printf 'panel: writing %s failed: %s; the previous record is unchanged\n' "$PANEL_STATE_FILE" "$(printf '%s\n' "${why:-the merge failed}" | panel_tail 1)" >&2
  return 1
}

panel_state_merge() {
  local tmp j
  local -a js=() in=()
  for j in "$PANEL_JOURNALS"/*; do [ -f "$j" ] && js+=("$j"); done
  [ ${#js[@]} -gt 0 ] || return 0
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
    }' "${in[@]}" "${js[@]}" > "$tmp"; then rm -f -- "$tmp"; return 1; fi
  if ! { chmod 0600 "$tmp" && mv -f -- "$tmp" "$PANEL_STATE_FILE"; }; then rm -f -- "$tmp"; return 1; fi
  rm -f -- "${js[@]}"
}

# panel_record_path KIND PATH EXISTED: journal a file panel wrote in this
# step (measured now), for PANEL_RECIPE/PANEL_RESOURCE (set by the engine per
# step). The merge keeps "existed" and "backup" of the first record.
panel_record_path() {
  local kind=$1 p=$2 ex=false st size mtime ino sha pj bj=null b oj
  panel_may_write || return 0
  [ -f "$p" ] || return 0
  st=$(panel_stat_key "$p") || return 0
  read -r size mtime ino <<<"$st"
  sha=${PANEL_SHA[$p]:-}
  [ -n "$sha" ] || panel_hash_set sha "$p" || return 1
  panel_json_set pj "$p" || return 0
  b=${PANEL_BACKUP[$p]:-}
  [ -z "$b" ] || panel_json_set bj "$b" || bj=null
  [ "$3" = 1 ] && ex=true
  panel_owner_set oj
  panel_state_set records "$p" "{\"kind\":\"$kind\",$oj,\"path\":$pj,\"sha256\":\"$sha\",\"size\":$size,\"mtime\":\"$mtime\",\"ino\":$ino,\"existed\":$ex,\"backup\":$bj}"
}

# panel_record_tree ID URL SHA256 INTO "DIGEST ENTRIES" BACKUP MEMBER...: journal
# an archive extracted as a directory of its own (one record for the tree).
panel_record_tree() {
  local id=$1 sha=$3 uj ij bj=null mj='' m d n oj
  panel_may_write || return 0
  panel_json_set uj "$2" || return 1
  panel_json_set ij "$4" || return 1
  read -r d n <<<"$5"
  [ -z "$6" ] || panel_json_set bj "$6" || return 1
  shift 6
  for m in "$@"; do panel_json_set m "$m" || return 1; mj="$mj${mj:+,}$m"; done
  panel_owner_set oj
  panel_state_set records "$id" "{\"kind\":\"archive\",$oj,\"url\":$uj,\"sha256\":\"$sha\",\"into\":$ij,\"members\":[$mj],\"tree\":{\"digest\":\"$d\",\"entries\":$n,\"backup\":$bj}}"
}

# panel_record_dir PATH EXISTED
panel_record_dir() {
  local pj ex=false oj
  panel_may_write || return 0
  panel_json_set pj "$1" || return 0
  [ "$2" = 1 ] && ex=true
  panel_owner_set oj
  panel_state_set records "$1" "{\"kind\":\"directory\",$oj,\"path\":$pj,\"existed\":$ex}"
}

# panel_owner_set VAR: '"recipe":…,"resource":…' of the step running now, in VAR (no locals, as above).
panel_owner_set() {
  set -- "$1" "${PANEL_RECIPE:-}" "${PANEL_RESOURCE:-}"
  panel_json_set "$1" "$2" || printf -v "$1" '%s' ''
  set -- "$1" "${!1}" "$3"
  panel_json_set "$1" "$3" || printf -v "$1" '%s' ''
  printf -v "$1" '"recipe":%s,"resource":%s' "$2" "${!1}"
}

# panel_pending_set UNIT restart|reload: recorded AND merged at once, before
# any change of the round trip, so an interrupted run still restarts next time.
panel_pending_set() {
  panel_state_set pending "$1" "{\"action\":\"$2\"}" && panel_state_flush
}
panel_pending_clear() { panel_state_del pending "$1"; }
