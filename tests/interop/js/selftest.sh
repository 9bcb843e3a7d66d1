#!/usr/bin/env bash
# selftest.sh — js <-> js check of the interop harness, no aqua involved:
#   relay.mjs  +  peer.mjs listen (reserves on it)  +  peer.mjs dial (via the circuit)
# and the "ack:" echo on /aqua/msg/1.0.0 must round-trip through the js relay.
#
# Everything listens/dials on 127.0.0.1 only. Every process is bounded by
# `timeout`, and cleanup kills only the PIDs this script started, by PID.
# Exit: 0 all checks passed, 1 a check failed, 77 node is not installed.
# Needs node_modules: run `npm ci` in this folder first.
set -u

HERE="${BASH_SOURCE[0]%/*}"
[ "$HERE" = "${BASH_SOURCE[0]}" ] && HERE=.
HERE="$(cd "$HERE" && pwd)"
cd "$HERE" || exit 1

if ! command -v node >/dev/null 2>&1; then
  echo "selftest: node not found, skipping"
  exit 77
fi
if [ ! -d node_modules/libp2p ]; then
  echo "selftest: node_modules missing - run 'npm ci' in $HERE first" >&2
  exit 1
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/aqua-js-selftest.XXXXXX")"
PIDS=()
PASSED=0
FAILED=0
HOLD_FD_OPEN=0

cleanup() {
  local pid
  # close our end of the stdin FIFO: servers exit on stdin EOF by themselves
  if [ "$HOLD_FD_OPEN" = 1 ]; then exec 3>&-; HOLD_FD_OPEN=0; fi
  for pid in "${PIDS[@]}"; do
    kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${PIDS[@]}"; do
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  PIDS=()
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "selftest: interrupted" >&2; exit 130' INT TERM

# The servers' stdin is a FIFO whose only writer is this shell (fd 3, opened
# read-write so opening it never blocks): no EOF while this script runs, and
# EOF (= clean shutdown) as soon as fd 3 is closed or this shell dies.
mkfifo "$WORK/stdin"
exec 3<>"$WORK/stdin"
HOLD_FD_OPEN=1

pass() { echo "ok - $*"; PASSED=$((PASSED + 1)); }
failcheck() { echo "not ok - $*"; FAILED=$((FAILED + 1)); }

dump() {
  local f
  for f in "$@"; do
    echo "----- $f" >&2
    tail -n 40 "$WORK/$f" >&2 2>/dev/null
  done
}

# json_field FILE EVENT FIELD -> value of FIELD of the first line with "event":EVENT
json_field() {
  node -e '
    const [file, ev, field] = process.argv.slice(1)
    const lines = require("fs").readFileSync(file, "utf8").split("\n").filter(Boolean)
    for (const l of lines) {
      let o; try { o = JSON.parse(l) } catch { continue }
      if (o.event === ev) { const v = o[field]; console.log(typeof v === "object" ? JSON.stringify(v) : String(v)); process.exit(0) }
    }
    process.exit(1)' "$1" "$2" "$3"
}

# count_events FILE EVENT
count_events() { grep -c "\"event\":\"$2\"" "$1" 2>/dev/null || true; }

# start NAME SECS ARGS... : run `node ARGS` in the background bounded by timeout
start() {
  local name="$1" secs="$2"
  shift 2
  # stdin: a read-only open of the FIFO (fd 3 is not inherited), so the only
  # writer is this shell's fd 3 and closing it gives the server EOF.
  timeout -k 2 "$secs" node "$@" <"$WORK/stdin" 3>&- >"$WORK/$name.out" 2>"$WORK/$name.err" &
  PIDS+=("$!")
  eval "PID_$name=$!"
}

# wait_event NAME EVENT SECS : wait until NAME.out has a line with EVENT
wait_event() {
  local name="$1" ev="$2" secs="$3" pidvar="PID_$1" i
  for ((i = 0; i < secs * 10; i++)); do
    grep -q "\"event\":\"$ev\"" "$WORK/$name.out" 2>/dev/null && return 0
    if ! kill -0 "${!pidvar}" 2>/dev/null; then
      sleep 0.1
      grep -q "\"event\":\"$ev\"" "$WORK/$name.out" 2>/dev/null && return 0
      echo "selftest: $name exited before printing $ev" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "selftest: $name did not print $ev within ${secs}s" >&2
  return 1
}

finish() {
  echo "selftest: $PASSED passed, $FAILED failed"
  [ "$FAILED" = 0 ] && exit 0
  exit 1
}

SEED_RELAY=0101010101010101010101010101010101010101010101010101010101010101
SEED_LISTEN=0202020202020202020202020202020202020202020202020202020202020202

# ---- 0. deterministic identity ------------------------------------------------
EXPECT_RELAY_ID="$(timeout 20 node keyinfo.mjs --key-seed-hex "$SEED_RELAY" >"$WORK/key.out" 2>"$WORK/key.err" && json_field "$WORK/key.out" key peer)"
case "$EXPECT_RELAY_ID" in
  12D3KooW*) pass "keyinfo derives a 12D3KooW peer id from a seed ($EXPECT_RELAY_ID)" ;;
  *) failcheck "keyinfo.mjs"; dump key.out key.err ;;
esac

# ---- 1. relay without limits + listener + dialer ------------------------------
start relay1 45 relay.mjs --key-seed-hex "$SEED_RELAY" --timeout-ms 40000
if ! wait_event relay1 listening 15; then
  failcheck "relay.mjs starts"; dump relay1.out relay1.err; finish
fi
RELAY1_ADDR="$(json_field "$WORK/relay1.out" listening addr)"
RELAY1_ID="$(json_field "$WORK/relay1.out" listening peer)"
if [ "$RELAY1_ID" = "$EXPECT_RELAY_ID" ] && [[ "$RELAY1_ADDR" == /ip4/127.0.0.1/tcp/*/p2p/"$RELAY1_ID" ]]; then
  pass "relay listening at $RELAY1_ADDR"
else
  failcheck "relay id/addr: $RELAY1_ID $RELAY1_ADDR (expected id $EXPECT_RELAY_ID)"
fi

start listen1 45 peer.mjs listen --relay "$RELAY1_ADDR" --key-seed-hex "$SEED_LISTEN" --exit-after 3 --timeout-ms 40000
if ! wait_event listen1 reserved 15; then
  failcheck "peer.mjs listen reserves on the relay"; dump listen1.out listen1.err relay1.out relay1.err; finish
fi
CIRCUIT1="$(json_field "$WORK/listen1.out" reserved addr)"
LISTEN1_ID="$(json_field "$WORK/listen1.out" reserved peer)"
if [ "$CIRCUIT1" = "$RELAY1_ADDR/p2p-circuit/p2p/$LISTEN1_ID" ]; then
  pass "reservation made, circuit address $CIRCUIT1"
else
  failcheck "unexpected circuit address '$CIRCUIT1'"
fi

# 1a. three frames + ping over the relayed connection
if timeout -k 2 30 node peer.mjs dial --addr "$CIRCUIT1" --send-hex 68656c6c6f2061717561 --count 3 --ping \
     --timeout-ms 25000 </dev/null >"$WORK/dial1.out" 2>"$WORK/dial1.err" \
   && [ "$(json_field "$WORK/dial1.out" done received)" = 3 ] \
   && [ "$(count_events "$WORK/dial1.out" echo)" = 3 ] \
   && [ "$(json_field "$WORK/dial1.out" echo data_hex)" = 61636b3a68656c6c6f2061717561 ] \
   && json_field "$WORK/dial1.out" ping rtt_ms >/dev/null; then
  pass "dial via js relay: 3 frames echoed as ack:+frame, ping ok"
else
  failcheck "dial via js relay (3 frames + ping)"; dump dial1.out dial1.err listen1.out
fi

# 1b. empty frames (zero-length varint prefix) on a second stream
if timeout -k 2 30 node peer.mjs dial --addr "$CIRCUIT1" --send-hex "" --count 2 \
     --timeout-ms 25000 </dev/null >"$WORK/dial2.out" 2>"$WORK/dial2.err" \
   && [ "$(json_field "$WORK/dial2.out" done received)" = 2 ] \
   && [ "$(json_field "$WORK/dial2.out" echo data_hex)" = 61636b3a ]; then
  pass "dial via js relay: zero-length frames echoed as 'ack:'"
else
  failcheck "dial via js relay (empty frames)"; dump dial2.out dial2.err listen1.out
fi

# 1c. two 300000-byte frames (larger than yamux's 256 KiB initial window)
if timeout -k 2 30 node peer.mjs dial --addr "$CIRCUIT1" --send-size 300000 --count 2 \
     --timeout-ms 25000 </dev/null >"$WORK/dial5.out" 2>"$WORK/dial5.err" \
   && [ "$(json_field "$WORK/dial5.out" done received)" = 2 ] \
   && [ "$(json_field "$WORK/dial5.out" echo len)" = 300004 ]; then
  pass "dial via js relay: 2 x 300000-byte frames echoed"
else
  failcheck "dial via js relay (large frames)"; dump dial5.out dial5.err listen1.out
fi

# the listener saw the three streams, printed the frames, and exits 0 after --exit-after 3
LRC=0
wait "$PID_listen1" || LRC=$?
if [ "$LRC" = 0 ] \
   && [ "$(count_events "$WORK/listen1.out" message)" = 7 ] \
   && [ "$(count_events "$WORK/listen1.out" stream-closed)" = 3 ] \
   && grep -q '"len":300000,.*"data_hex_omitted":true' "$WORK/listen1.out" \
   && [ "$(json_field "$WORK/listen1.out" message data_hex)" = 68656c6c6f2061717561 ]; then
  pass "listener printed 7 message lines on 3 streams and exited 0"
else
  failcheck "listener output / exit code ($LRC)"; dump listen1.out listen1.err
fi

# 1d. dialing a peer that has no reservation fails with a JSON error line
DIALER_ID="$(json_field "$WORK/dial1.out" started peer)"
DRC=0
timeout -k 2 20 node peer.mjs dial --addr "$RELAY1_ADDR/p2p-circuit/p2p/$DIALER_ID" --send-hex 00 \
  --timeout-ms 15000 </dev/null >"$WORK/dial3.out" 2>"$WORK/dial3.err" || DRC=$?
if [ "$DRC" = 1 ] && json_field "$WORK/dial3.out" error error | grep -q NO_RESERVATION; then
  pass "dial to a peer without reservation fails (exit 1, NO_RESERVATION)"
else
  failcheck "negative dial (rc=$DRC)"; dump dial3.out dial3.err
fi

# ---- 2. relay with js default limits: relayed connection is "limited" --------
start relay2 45 relay.mjs --limit default --timeout-ms 40000
if ! wait_event relay2 listening 15; then
  failcheck "relay.mjs --limit default starts"; dump relay2.out relay2.err; finish
fi
RELAY2_ADDR="$(json_field "$WORK/relay2.out" listening addr)"
start listen2 45 peer.mjs listen --relay "$RELAY2_ADDR" --exit-after 1 --timeout-ms 40000
if ! wait_event listen2 reserved 15; then
  failcheck "peer.mjs listen reserves on limited relay"; dump listen2.out listen2.err relay2.out; finish
fi
CIRCUIT2="$(json_field "$WORK/listen2.out" reserved addr)"
if timeout -k 2 30 node peer.mjs dial --addr "$CIRCUIT2" --send-hex 0001020304fffe --count 5 \
     --timeout-ms 25000 </dev/null >"$WORK/dial4.out" 2>"$WORK/dial4.err" \
   && [ "$(json_field "$WORK/dial4.out" done received)" = 5 ] \
   && [ "$(json_field "$WORK/dial4.out" connected limited)" = true ]; then
  pass "dial via limited js relay (runOnLimitedConnection): 5 frames echoed"
else
  failcheck "dial via limited js relay"; dump dial4.out dial4.err listen2.out relay2.out
fi
LRC=0
wait "$PID_listen2" || LRC=$?
if [ "$LRC" = 0 ] && [ "$(json_field "$WORK/listen2.out" stream-open limited)" = true ]; then
  pass "listener saw a limited inbound relayed connection and exited 0"
else
  failcheck "listener 2 (rc=$LRC)"; dump listen2.out listen2.err
fi

# ---- 3. relay exits 0 when its stdin closes ----------------------------------
exec 3>&-
HOLD_FD_OPEN=0
RRC=0
wait "$PID_relay1" || RRC=$?
if [ "$RRC" = 0 ] && grep -q '"event":"stopped"' "$WORK/relay1.out"; then
  pass "relay stops cleanly on stdin EOF"
else
  failcheck "relay stop on stdin EOF (rc=$RRC)"; dump relay1.out relay1.err
fi

finish
