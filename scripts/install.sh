#!/usr/bin/env bash
# panel's one-liner, for a fresh Debian/Ubuntu server (panel.sh's way):
#
#   curl -fsSL https://github.com/panel-sh/panel/releases/latest/download/install.sh \
#     | sudo bash -s -- -d example.com -m me@example.com
#
# Downloads the single executable for this machine's architecture beside
# SHA256SUMS, verifies it, installs it as /usr/local/bin/panel and runs
# `panel install` with the arguments given (none: only installs panel).
#
#   --mirror URL   replaces https://github.com for panel's own download, and is
#                  passed on to `panel install`, where it does the same for
#                  every artifact (panel.sh's MIRROR_PATH)
#
# Safe to run again: a panel binary with the published sum is left as it is,
# and `panel install` changes only what differs.
set -euo pipefail

RELEASE_PATH=panel-sh/panel/releases/latest/download
TARGET=/usr/local/bin/panel

die() {
  echo "panel install.sh: $*" >&2
  exit 1
}

mirror=https://github.com
allow_unsupported=no
prev=
for a in "$@"; do
  case "$prev" in
    --mirror) mirror=$a ;;
  esac
  case "$a" in
    --mirror=*) mirror=${a#--mirror=} ;;
    --allow-unsupported-os) allow_unsupported=yes ;;
  esac
  prev=$a
done
[ "$prev" != --mirror ] || die "--mirror needs a URL"
mirror=${mirror%/}
case "$mirror" in
  http://* | https://*) ;;
  *) die "--mirror: expected an http(s) URL, got '$mirror'" ;;
esac

[ "$(uname -s)" = Linux ] || die "panel runs on Linux (Debian or Ubuntu); this is $(uname -s)"
case "$(uname -m)" in
  x86_64 | amd64) arch=amd64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) die "no panel build for the $(uname -m) architecture (there are amd64 and arm64)" ;;
esac
# shellcheck source=/dev/null
os_id=$( (. /etc/os-release && echo "${ID:-}") 2>/dev/null || true)
case "$os_id" in
  debian | ubuntu) ;;
  *)
    [ "$allow_unsupported" = yes ] || die "panel supports Debian and Ubuntu; this is '${os_id:-unknown}' (--allow-unsupported-os to try anyway)"
    ;;
esac
[ "$(id -u)" -eq 0 ] || die "run as root: curl -fsSL …/install.sh | sudo bash -s -- -d example.com -m me@example.com"

fetch() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -O "$2" "$1"
  else
    die "needs curl or wget to download panel (apt-get install curl)"
  fi
}

base="$mirror/$RELEASE_PATH"
name="panel-linux-$arch"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fetch "$base/SHA256SUMS" "$tmp/SHA256SUMS" || die "cannot download $base/SHA256SUMS"
want=$(awk -v n="$name" '$2 == n || $2 == "*" n { print $1; exit }' "$tmp/SHA256SUMS")
[[ "$want" =~ ^[0-9a-f]{64}$ ]] || die "$base/SHA256SUMS has no sum for $name"

have=
[ -f "$TARGET" ] && have=$(sha256sum "$TARGET" | cut -d' ' -f1)
if [ "$have" = "$want" ]; then
  echo "panel install.sh: $TARGET is already this release ($name)"
else
  fetch "$base/$name" "$tmp/$name" || die "cannot download $base/$name"
  got=$(sha256sum "$tmp/$name" | cut -d' ' -f1)
  [ "$got" = "$want" ] || die "checksum mismatch for $name: SHA256SUMS says $want, the download is $got; nothing installed"
  install -d -m 0755 "$(dirname "$TARGET")"
  # Beside the target, then renamed over it: a running panel keeps its file, nobody sees half of one.
  install -m 0755 "$tmp/$name" "$TARGET.new"
  mv -f "$TARGET.new" "$TARGET"
  echo "panel install.sh: installed $TARGET ($name, sha256 $want)"
fi

if [ "$#" -eq 0 ]; then
  echo "panel install.sh: next: panel install -d example.com -m me@example.com"
  exit 0
fi
exec "$TARGET" install "$@"
