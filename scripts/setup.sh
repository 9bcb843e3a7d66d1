#!/usr/bin/env bash
# Installs every system dependency aqua needs from Debian 12 packages.
# Idempotent: packages already installed are not touched; apt-get update runs at most once.
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config ccache git ca-certificates
  libcaf-dev libsodium-dev libzmq3-dev cppzmq-dev
  libleveldb-dev libsnappy-dev libyaml-cpp-dev
  libboost-dev libboost-filesystem-dev
  libgtest-dev libgmock-dev googletest
  libcli11-dev libspdlog-dev nlohmann-json3-dev
  python3 iproute2 nftables procps
  clang libclang-rt-14-dev
)
# Node.js runs the js-libp2p interop harness (tests/interop/js). A node
# already on the PATH (e.g. a newer one) is used as is; else Debian's.
if ! command -v node >/dev/null 2>&1; then PKGS+=(nodejs npm); fi

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The pinned js-libp2p 2.x harness (package-lock.json), once.
js_dir="$(cd "$(dirname "$0")/.." && pwd)/tests/interop/js"
if [ ! -d "$js_dir/node_modules" ]; then
  echo "setup: npm ci in tests/interop/js (js-libp2p interop harness)"
  (cd "$js_dir" && npm ci --no-audit --no-fund --loglevel=error) || {
    echo "setup: error: npm ci failed in $js_dir (the npm registry must be reachable once)" >&2
    exit 1
  }
fi
echo "setup: done"
