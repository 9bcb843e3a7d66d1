#!/usr/bin/env bash
# Builds if needed and runs the whole test suite twice: a normal build
# (build/) and an AddressSanitizer + UndefinedBehaviorSanitizer build
# (build-asan/, option AQUA_SANITIZE). AQUA_SKIP_SANITIZE=1 skips the second.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${AQUA_TEST_JOBS:-2}

echo "== aqua: build (RelWithDebInfo)"
bash scripts/build.sh build
echo "== aqua: tests (build/)"
ctest --test-dir build --output-on-failure -j "$jobs"

if [ "${AQUA_SKIP_SANITIZE:-0}" != 1 ]; then
  echo "== aqua: build with AddressSanitizer + UBSan (build-asan/)"
  bash scripts/build.sh build-asan -DAQUA_SANITIZE=ON
  echo "== aqua: tests (build-asan/)"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ctest --test-dir build-asan --output-on-failure -j "$jobs"
fi
