#!/usr/bin/env bash
# Debian packages the testbed (test/testbed/) needs on a fresh machine, plus any
# named as arguments (bench/install-deps.sh adds its own). Idempotent: installs
# only what is missing, so repeated runs cost a dpkg query.
set -euo pipefail
PKGS=(
  debootstrap          # builds the cached base root
  systemd-container    # systemd-nspawn boots the test hosts
  pebble               # ACME CA + pebble-challtestsrv (mock DNS)
  docker-registry      # the bed's OCI registry (stand-in images, test/testbed/images.ts)
  dpkg-dev             # dpkg-scanpackages indexes the local apt repo
  openssh-client       # ssh, ssh-keygen: per-bed keys, strict host-key checks in tests
  iproute2             # bridges, veths, network namespaces
  util-linux           # mount, nsenter
  gcc libc6-dev        # the static faasd stand-in
  binutils             # strip
  openssl              # the Pebble API certificate
  ca-certificates
  argon2               # the reference argon2 (code-server password hash) for the unit tests
  shellcheck           # install.sh is checked in the unit tests
  chromium             # headless browser for the /codeserver/ and /panel/ tests
  fonts-dejavu-core    # so chromium's screenshots have glyphs
  nginx                # its binary: `nginx -t` of every site rendering (test/support/nginx.ts); not run as a service
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
  # No service installed here may start on the runner (nginx would take port 80):
  # policy-rc.d answers "not allowed" to every start while apt runs.
  added_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d > /dev/null
    $SUDO chmod 0755 /usr/sbin/policy-rc.d
    added_policy=1
  fi
  rc=0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
  [ -z "$added_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
  [ "$rc" -eq 0 ] || exit "$rc"
fi
