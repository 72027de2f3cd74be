# shellcheck shell=bash
# ACME pre-flight on the host (src/acme/certificate.ts).
# Part of the prelude (src/resources/prelude.ts), which passes the constants in.

# panel_http01_probe URL CONTENT: fetch an HTTP-01 challenge URL from this
# host, resolving its name as the host does, following redirects and taking
# any certificate as the CA does (acme-client's verifyChallenge idea, from a
# second vantage point), and compare the body with CONTENT.
# Exit 0: the body is CONTENT, or nothing answered (the name does not resolve
# here, the connection is refused or times out): many hosts cannot reach their
# own public address (no hairpin NAT), and the controller's fetch already
# showed the way in. Exit 1, one line on stdout: something else answered.
panel_http01_probe() {
  local url=$1 want=$2 body code rc=0 got
  command -v curl >/dev/null 2>&1 || return 0
  body=$(mktemp) || { echo "mktemp failed"; return 1; }
  code=$(curl -sk -L --proto-redir http,https --max-redirs 10 --connect-timeout 5 -m 15 -o "$body" -w '%{http_code}' -- "$url" 2>/dev/null) || rc=$?
  got=$(head -c 4096 -- "$body")
  rm -f -- "$body"
  case $rc in
    0) ;;
    6 | 7 | 28) return 0 ;; # could not resolve, connect, or timed out: no answer to judge
    *) printf 'curl failed (exit %s) after connecting' "$rc"; return 1 ;;
  esac
  if [ "$code" = 200 ] && [ "$got" = "$want" ]; then return 0; fi
  printf 'answered HTTP %s without this host'"'"'s probe' "${code:-?}"
  return 1
}
