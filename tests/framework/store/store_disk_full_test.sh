#!/usr/bin/env bash
# Disk full: runs disk_full_probe on a 4 MiB tmpfs mounted in a private mount
# namespace (nothing outside this test sees it). Needs root and unshare;
# otherwise skips with 77.
set -u
probe=$1
if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
  echo "skipped: needs root and unshare"; exit 77
fi
dir=$(mktemp -d /tmp/aqua-diskfull-XXXXXX)
trap 'rmdir "$dir" 2>/dev/null' EXIT
unshare -m bash -c '
  set -e
  mount --make-rprivate / 2>/dev/null || true
  mount -t tmpfs -o size=4m tmpfs "$1"
  # a ballast file the probe deletes to make room again before reopening
  dd if=/dev/zero of="$1/ballast" bs=1k count=512 status=none
  "$2" "$1"
' _ "$dir" "$probe"
