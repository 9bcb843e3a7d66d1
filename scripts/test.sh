#!/usr/bin/env bash
# Builds if needed and runs the whole test suite twice: a normal build
# (build/) and an AddressSanitizer + UndefinedBehaviorSanitizer build
# (build-asan/, option AQUA_SANITIZE). AQUA_SKIP_SANITIZE=1 skips the second.
# Then the libFuzzer targets (clang, build-fuzz/) run for a bounded time
# each; AQUA_SKIP_LIBFUZZER=1 skips them.
set -euo pipefail
cd "$(dirname "$0")/.."
# ccache: share hits between clones in different directories (CI clones afresh).
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
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

if [ "${AQUA_SKIP_LIBFUZZER:-0}" != 1 ]; then
  echo "== aqua: libFuzzer targets with clang + ASan/UBSan (build-fuzz/)"
  if [ ! -f build-fuzz/build.ninja ]; then
    CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DAQUA_FUZZ_ONLY=ON -DAQUA_SANITIZE=ON -DAQUA_FUZZ_SECONDS="${AQUA_LIBFUZZER_SECONDS:-15}"
  fi
  cmake --build build-fuzz -j "$(nproc)"
  ctest --test-dir build-fuzz --output-on-failure -j "$jobs"
fi
