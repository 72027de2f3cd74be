#!/usr/bin/env bash
# Debian packages the testbed (test/testbed/) needs on a fresh machine, plus any
# named as arguments (bench/install-deps.sh adds its own). Idempotent: installs
# only what is missing, so repeated runs cost a dpkg query.
set -euo pipefail
PKGS=(
  debootstrap          # builds the cached base root
  systemd-container    # systemd-nspawn boots the test hosts
  pebble               # ACME CA + pebble-challtestsrv (mock DNS)
  dpkg-dev             # dpkg-scanpackages indexes the local apt repo
  openssh-client       # ssh, ssh-keygen: per-bed keys, strict host-key checks in tests
  iproute2             # bridges, veths, network namespaces
  util-linux           # mount, nsenter
  gcc libc6-dev        # the static faasd stand-in
  binutils             # strip
  openssl              # the Pebble API certificate
  ca-certificates
  chromium             # headless browser for the /codeserver/ and /panel/ tests
  fonts-dejavu-core    # so chromium's screenshots have glyphs
  testssl.sh           # the HTTPS site checked as a new user would (certificate.test.ts)
  "$@"
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
