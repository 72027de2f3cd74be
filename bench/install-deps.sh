#!/usr/bin/env bash
# What the benchmark needs on the runner besides the testbed's packages:
# Debian's Ansible (the comparison), GNU time (peak RSS), hyperfine (start-up).
set -euo pipefail
exec bash "$(dirname "$0")/../.ci/install-deps.sh" ansible time hyperfine
