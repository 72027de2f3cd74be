#!/usr/bin/env bash
# What the benchmark needs on the runner besides the testbed's packages:
# Debian's Ansible (the comparison), GNU time (peak RSS), hyperfine (start-up).
set -euo pipefail
bash "$(dirname "$0")/../.ci/install-deps.sh"
PKGS=(ansible time hyperfine)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
