# shellcheck shell=bash
# Downloads on the host, retried only when the failure is transient, the verified download cache,
# and the HTTP status of this host's own services for checks.
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

PANEL_DOWNLOADS=/var/cache/panel/downloads

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
  elif [ "${url#file://}" != "$url" ]; then
    err=$(cp -- "${url#file://}" "$out" 2>&1) && return 0
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
  panel_hash_set got "$tmp" || { rm -f "$tmp"; return 1; }
  if [ "$got" != "$want" ]; then
    rm -f "$tmp"
    printf 'panel: checksum mismatch for %s: expected %s, got %s\n' "$url" "$want" "$got" >&2
    return 1
  fi
  mv -f "$tmp" "$c" || { rm -f "$tmp"; return 1; }
  printf '%s\n' "$c"
}

# panel_base64 STRING: STRING's bytes in base64 (RFC 4648, padded) in PANEL_B64,
# computed by bash: a secret encoded here reaches no process's argv or stdin.
panel_base64() {
  local LC_ALL=C s=$1 t=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/ i n a b c v
  PANEL_B64=
  n=${#s}
  for ((i = 0; i < n; i += 3)); do
    printf -v a '%d' "'${s:i:1}"
    b=0 c=0
    if ((i + 1 < n)); then printf -v b '%d' "'${s:i+1:1}"; fi
    if ((i + 2 < n)); then printf -v c '%d' "'${s:i+2:1}"; fi
    v=$(((a & 255) << 16 | (b & 255) << 8 | (c & 255)))
    PANEL_B64+=${t:v >> 18 & 63:1}${t:v >> 12 & 63:1}
    if ((i + 1 < n)); then PANEL_B64+=${t:v >> 6 & 63:1}; else PANEL_B64+='='; fi
    if ((i + 2 < n)); then PANEL_B64+=${t:v & 63:1}; else PANEL_B64+='='; fi
  done
}

# panel_http_code URL [USER_FILE PASSWORD_FILE]: the status of a GET of URL
# (http://IPv4:PORT/PATH), printed as `curl -w '%{http_code}'` prints it and
# set in PANEL_HTTP_CODE; 000, a line on stderr and a non-zero status when
# nothing answers within 5 s. With the two files, basic auth from their
# contents (trailing newlines dropped, as $(cat) does). bash's /dev/tcp, not
# curl: a converged host runs these checks on every run, and starting curl
# costs the host more CPU than the rest of such a check. Connecting has no
# timeout of its own: for this host's own addresses, which answer or refuse
# at once.
panel_http_code() {
  local url=$1 host port path line fd auth='' u='' p=''
  PANEL_HTTP_CODE=000
  if [[ ! $url =~ ^http://([0-9.]+):([0-9]+)(/[!-~]*)?$ ]]; then
    printf 'panel: panel_http_code: not an http://IPv4:PORT/PATH URL: %s\n' "$url" >&2
    printf '%s' "$PANEL_HTTP_CODE"
    return 2
  fi
  host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]} path=${BASH_REMATCH[3]:-/}
  if [ $# -ge 3 ]; then
    IFS= read -r -d '' u <"$2"
    IFS= read -r -d '' p <"$3"
    u=${u%"${u##*[!$'\n']}"}
    p=${p%"${p##*[!$'\n']}"}
    panel_base64 "$u:$p"
    auth="Authorization: Basic $PANEL_B64"$'\r\n'
  fi
  if { exec {fd}<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
    printf 'GET %s HTTP/1.0\r\nHost: %s:%s\r\n%sConnection: close\r\n\r\n' "$path" "$host" "$port" "$auth" >&"$fd"
    if IFS= read -r -t 5 line <&"$fd" && [[ $line =~ ^HTTP/[0-9.]+\ ([0-9][0-9][0-9]) ]]; then PANEL_HTTP_CODE=${BASH_REMATCH[1]}; fi
    exec {fd}>&-
    [ "$PANEL_HTTP_CODE" != 000 ] || printf 'panel: %s: no HTTP answer within 5 s\n' "$url" >&2
  else
    printf 'panel: %s: cannot connect\n' "$url" >&2
  fi
  printf '%s' "$PANEL_HTTP_CODE"
  [ "$PANEL_HTTP_CODE" != 000 ]
}
