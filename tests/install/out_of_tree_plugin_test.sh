#!/usr/bin/env bash
# Installs aqua into a temp prefix, builds examples/third_party_transport
# out of tree with find_package(aqua), and has the installed CLI load and
# self-test it. Usage: out_of_tree_plugin_test.sh <build dir> <source dir>
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d /tmp/aqua-oot-XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

echo "== install into $prefix"
cmake --install "$build" --prefix "$prefix" >/dev/null
test -f "$prefix/lib/cmake/aqua/aquaConfig.cmake"
test -f "$prefix/include/aqua/transport.hpp"
test -x "$prefix/bin/aqua"

echo "== configure + build the example plugin against the installed package"
cmake -S "$src/examples/third_party_transport" -B "$work/build" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" >/dev/null
test -f "$work/build/libaqua_transport_example_pipe.so"

echo "== installed CLI loads it from --plugin-path and self-tests it"
out=$("$prefix/bin/aqua" plugin check example_pipe --plugin-path "$work/build" --listen /memory/oot --json)
echo "$out"
grep -q '"self_test":"passed"' <<<"$out"

echo "== ... and from AQUA_PLUGIN_PATH"
AQUA_PLUGIN_PATH="$work/build" "$prefix/bin/aqua" plugin check example_pipe --listen /memory/oot2

echo "== installed loopback plugin is found in the install dir"
out=$(env -u AQUA_PLUGIN_PATH "$prefix/bin/aqua" plugin check loopback --listen /memory/oot3)
echo "$out"
grep -q "$prefix/lib/aqua/plugins/libaqua_transport_loopback.so" <<<"$out"

echo "== a missing plugin names the dirs searched"
if "$prefix/bin/aqua" plugin check nosuch --plugin-path "$work/build" 2>"$work/err"; then
  echo "expected failure"; exit 1
fi
grep -q "$work/build" "$work/err"
grep -q "$prefix/lib/aqua/plugins" "$work/err"
echo "out-of-tree plugin test passed"
