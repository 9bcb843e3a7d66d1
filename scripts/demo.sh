#!/usr/bin/env bash
# Builds if needed and runs aqua's main job: today, two identities on this
# host exchange cards and end-to-end encrypted messages over the loopback
# transport plugin.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh build
exec build/bin/aqua demo "$@"
