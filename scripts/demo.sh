#!/usr/bin/env bash
# Builds if needed and runs aqua's main job, the multi-agent workflow demo
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/build.sh build
exec build/bin/aqua demo "$@"
