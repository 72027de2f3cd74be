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
 * - nothing here prints a line starting with `@@panel` (the engine's markers).
 */
// Written with String.raw so backslashes reach bash untouched; `\${` (needed to keep
// JS from interpolating) is turned back into `${` below.
export const PRELUDE: string = String.raw`
: "\${PANEL_MODE:=facts}"
PANEL_STATE=/var/lib/panel
PANEL_STATCACHE=/var/lib/panel/statcache
PANEL_DOWNLOADS=/var/cache/panel/downloads
# Files smaller than this are hashed directly: a lookup would cost more than hashing.
PANEL_CACHE_MIN=1048576

panel_fail() { printf 'panel: %s\n' "$*" >&2; exit 1; }
panel_may_write() { [ "\${PANEL_MODE:-facts}" = apply ]; }

# panel_stat_key PATH -> "size mtime inode" (following symlinks), empty when absent.
# uutils stat (Ubuntu 26.04, 0.0.30 tested) prints %.9Y through a float: the last two
# digits are lost (…123456789 reads …123456700; GNU is exact). Harmless for a cache
# key: each host is read by one stat, and timestamps never differ by under 100 ns
# with the same size and inode.
panel_stat_key() { stat -L -c '%s %.9Y %i' -- "$1" 2>/dev/null; }

# panel_hash PATH -> sha256 of the bytes (reads via redirection so odd names are safe).
panel_hash() { local h; h=$(sha256sum < "$1") || return 1; printf '%s\n' "\${h%% *}"; }

# panel_cache_put PATH SHA [STATKEY]: record PATH's checksum in the stat cache
# (lines: size TAB mtime TAB inode TAB sha TAB path). Only in apply mode.
panel_cache_put() {
  local p=$1 sha=$2 st=\${3:-} size mtime ino tmp
  panel_may_write || return 0
  case $p in *$'\t'*|*$'\n'*) return 0 ;; esac
  [ -n "$st" ] || st=$(panel_stat_key "$p") || return 0
  [ -n "$st" ] || return 0
  read -r size mtime ino <<<"$st"
  [ "$size" -ge "$PANEL_CACHE_MIN" ] || return 0
  mkdir -p "$PANEL_STATE" || return 1
  tmp=$(mktemp "$PANEL_STATE/.statcache.XXXXXX") || return 1
  {
    if [ -f "$PANEL_STATCACHE" ]; then P="$p" awk -F'\t' '$5 != ENVIRON["P"]' "$PANEL_STATCACHE"; fi
    printf '%s\t%s\t%s\t%s\t%s\n' "$size" "$mtime" "$ino" "$sha" "$p"
  } > "$tmp" && mv -f "$tmp" "$PANEL_STATCACHE" || { rm -f "$tmp"; return 1; }
}

# panel_sha256 PATH -> sha256, or "-" when PATH is not a regular file.
# Large files are looked up in the stat cache (size+mtime+inode must match);
# PANEL_DEEP=1 ignores the cache. The cache is refreshed only in apply mode.
panel_sha256() {
  local p=$1 st size mtime ino hit sha
  [ -f "$p" ] || { echo -; return 0; }
  st=$(panel_stat_key "$p") || { echo -; return 0; }
  read -r size mtime ino <<<"$st"
  if [ "$size" -ge "$PANEL_CACHE_MIN" ] && [ -z "\${PANEL_DEEP:-}" ] && [ -r "$PANEL_STATCACHE" ]; then
    hit=$(P="$p" K="$st" awk -F'\t' '$5 == ENVIRON["P"] && ($1 " " $2 " " $3) == ENVIRON["K"] { print $4; exit }' "$PANEL_STATCACHE")
    if [ -n "$hit" ]; then printf '%s\n' "$hit"; return 0; fi
  fi
  sha=$(panel_hash "$p") || { echo -; return 0; }
  panel_cache_put "$p" "$sha" "$st" || true
  printf '%s\n' "$sha"
}

# panel_file_facts PATH WITH_CONTENT -> key=value lines: exists, type, mode,
# owner, uid, group, gid, size, sha256 and (WITH_CONTENT=1, regular file
# <= 256 KiB) content=<base64>.
panel_file_facts() {
  local p=$1 wc=\${2:-0} t size
  if [ -L "$p" ]; then t=symlink
  elif [ -f "$p" ]; then t=file
  elif [ -d "$p" ]; then t=directory
  elif [ -e "$p" ]; then t=other
  else echo exists=0; return 0; fi
  echo exists=1
  echo "type=$t"
  stat -c $'mode=%a\nowner=%U\nuid=%u\ngroup=%G\ngid=%g\nsize=%s' -- "$p" || return 1
  if [ "$t" = file ]; then
    echo "sha256=$(panel_sha256 "$p")"
    size=$(stat -c %s -- "$p")
    if [ "$wc" = 1 ] && [ "$size" -le 262144 ]; then
      printf 'content='; base64 -w0 < "$p"; echo
    fi
  fi
}

# panel_tmp_beside PATH -> a new temp file in PATH's directory (created if
# missing), so the final rename is atomic (same filesystem).
panel_tmp_beside() {
  local d
  d=$(dirname -- "$1")
  mkdir -p -- "$d" || return 1
  mktemp "$d/.panel-tmp.XXXXXXXX"
}

# panel_backup PATH -> prints the backup path (nothing when PATH is not a
# regular file). Keeps the last 5 backups per path.
panel_backup() {
  local p=$1 dir=/var/lib/panel/backups name b n
  local -a all
  [ -f "$p" ] && [ ! -L "$p" ] || return 0
  mkdir -p "$dir" && chmod 700 "$dir" || return 1
  name=\${p//\//%}
  b="$dir/$name.$(date -u +%Y%m%dT%H%M%S.%NZ)"
  cp -p -- "$p" "$b" || return 1
  all=("$dir/$name".[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]T[0-9][0-9][0-9][0-9][0-9][0-9].[0-9]*Z)
  n=\${#all[@]}
  if [ "$n" -gt 5 ]; then rm -f -- "\${all[@]:0:n-5}" || true; fi
  printf '%s\n' "$b"
}

# panel_own PATH MODE OWNER GROUP: chmod + chown (MODE octal, e.g. 0644).
panel_own() {
  chmod "$2" -- "$1" && chown "$3:$4" -- "$1"
}

# panel_install_file TMP PATH MODE OWNER GROUP: set ownership on TMP, back up
# PATH, rename TMP over PATH. Prints the backup path (may be empty).
panel_install_file() {
  local tmp=$1 p=$2 b
  panel_own "$tmp" "$3" "$4" "$5" || return 1
  if [ -d "$p" ] && [ ! -L "$p" ]; then panel_fail "$p is a directory, refusing to replace it with a file"; fi
  b=$(panel_backup "$p") || return 1
  mv -f -- "$tmp" "$p" || return 1
  printf '%s\n' "$b"
}

# panel_restore PATH BACKUP: put BACKUP back at PATH, or remove PATH when no backup.
panel_restore() {
  local p=$1 b=$2 tmp
  if [ -n "$b" ] && [ -f "$b" ]; then
    tmp=$(panel_tmp_beside "$p") && cp -p -- "$b" "$tmp" && mv -f -- "$tmp" "$p"
  else
    rm -f -- "$p"
  fi
}

# panel_fetch URL OUT: download with curl, else wget; file:// also via cp.
panel_fetch() {
  local url=$1 out=$2 err
  if command -v curl >/dev/null 2>&1; then
    err=$(curl -fsSL --retry 3 --retry-delay 1 --connect-timeout 20 -o "$out" -- "$url" 2>&1) && return 0
  elif command -v wget >/dev/null 2>&1; then
    err=$(wget -q -O "$out" -- "$url" 2>&1) && return 0
  elif [ "\${url#file://}" != "$url" ]; then
    err=$(cp -- "\${url#file://}" "$out" 2>&1) && return 0
  else
    err="neither curl nor wget is installed"
  fi
  printf 'panel: download of %s failed: %s\n' "$url" "$(printf '%s' "$err" | tail -n 3)" >&2
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
    printf 'checksum mismatch for %s: expected %s, got %s\n' "$url" "$want" "$got" >&2
    return 1
  fi
  mv -f "$tmp" "$c" || { rm -f "$tmp"; return 1; }
  panel_cache_put "$c" "$want" || true
  printf '%s\n' "$c"
}

# panel_apt_install PKG...: noninteractive install that waits for the dpkg
# lock, runs apt-get update only when the lists are missing or older than a
# day (or a package is not found), and reports apt's last stderr lines.
panel_apt_install() {
  local deadline lists_age out rc updated=0
  export DEBIAN_FRONTEND=noninteractive
  deadline=$(( $(date +%s) + 600 ))
  lists_age=$(find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*' -mmin -1440 2>/dev/null | head -n 1)
  if [ -z "$lists_age" ]; then panel_apt_get update || return 1; updated=1; fi
  while :; do
    out=$(apt-get -o DPkg::Lock::Timeout=300 -y -q install --no-install-recommends "$@" 2>&1 </dev/null); rc=$?
    [ $rc -eq 0 ] && return 0
    if printf '%s' "$out" | grep -qE 'Could not get lock|Unable to lock|is another process using it' && [ "$(date +%s)" -lt "$deadline" ]; then
      sleep 3; continue
    fi
    if [ $updated = 0 ] && printf '%s' "$out" | grep -qE 'Unable to locate package|has no installation candidate|404 +Not Found|Failed to fetch'; then
      panel_apt_get update || return 1; updated=1; continue
    fi
    printf 'panel: apt-get install %s failed (exit %s):\n%s\n' "$*" "$rc" "$(printf '%s\n' "$out" | grep -v '^\s*$' | tail -n 8)" >&2
    return 1
  done
}

panel_apt_get() {
  local out rc deadline
  deadline=$(( $(date +%s) + 600 ))
  while :; do
    out=$(apt-get -o DPkg::Lock::Timeout=300 -q "$@" 2>&1 </dev/null); rc=$?
    [ $rc -eq 0 ] && return 0
    if printf '%s' "$out" | grep -qE 'Could not get lock|Unable to lock' && [ "$(date +%s)" -lt "$deadline" ]; then sleep 3; continue; fi
    printf 'panel: apt-get %s failed (exit %s):\n%s\n' "$*" "$rc" "$(printf '%s\n' "$out" | grep -v '^\s*$' | tail -n 8)" >&2
    return 1
  done
}
`.replace(/\\\$\{/g, '${');
