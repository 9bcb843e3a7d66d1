#!/usr/bin/env bash
# Installs aqua into a temp prefix, builds examples/third_party_transport
# out of tree with find_package(aqua), and has the installed CLI load and
# self-test it; builds examples/third_party_agent the same way, runs it in an
# installed daemon and asks it from the CLI.
# Usage: out_of_tree_plugin_test.sh <build dir> <source dir>
set -euo pipefail
build=$1
src=$2
work=$(mktemp -d /tmp/aqua-oot-XXXXXX)
daemon=
trap '[ -n "$daemon" ] && kill "$daemon" 2>/dev/null; rm -rf "$work"' EXIT
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
echo "== an agent plugin built out of tree, run by the installed daemon and asked from the CLI"
cmake -S "$src/examples/third_party_agent" -B "$work/agent" -G Ninja \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/agent" >/dev/null
test -f "$work/agent/libaqua_agent_echo.so"
d=$work/node
"$prefix/bin/aqua" --dir "$d" init >/dev/null
printf 'agents:\n  - plugin: echo\n    settings: {prefix: "echo: "}\n' >> "$d/config.yaml"
AQUA_PLUGIN_PATH="$work/agent" "$prefix/bin/aqua" --dir "$d" serve > "$work/serve.log" 2>&1 &
daemon=$!
for _ in $(seq 1 300); do  # the agent's card becomes a contact of the daemon once it started
  "$prefix/bin/aqua" --dir "$d" contacts show echo >/dev/null 2>&1 && break
  sleep 0.1
done
"$prefix/bin/aqua" --dir "$d" contacts show echo >/dev/null || { cat "$work/serve.log"; exit 1; }
deadline=$(( $(date +%s%3N) + 60000 ))
frame='{"aqua_agent": 1, "kind": "request", "corr": "000000000000000000000000000000e1", "type": "echo", '
frame+='"from": "oot-test", "deadline_ms": '$deadline', "body": "hi"}'
"$prefix/bin/aqua" --dir "$d" send echo "$frame" --topic aqua.agent.v1 --wait --timeout 30s
reply=
for _ in $(seq 1 300); do
  reply=$("$prefix/bin/aqua" --dir "$d" inbox list --json | grep -o 'echo: hi' || true)
  [ -n "$reply" ] && break
  sleep 0.1
done
[ "$reply" = "echo: hi" ] || { echo "no reply from the agent"; cat "$work/serve.log"; exit 1; }
echo "the agent answered: $reply"
kill -TERM "$daemon"
wait "$daemon"
daemon=
echo "out-of-tree plugin test passed"
