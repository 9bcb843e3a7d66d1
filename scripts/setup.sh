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

missing=()
for p in "${PKGS[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "setup: installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
