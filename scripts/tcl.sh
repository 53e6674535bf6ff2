#!/usr/bin/env bash
# Run units of Redis's own TCL test suite (../shared/conformance/redis-tcl) against a
# fresh standalone node of ours:  scripts/tcl.sh unit/type/string unit/type/incr
# Environment: TCL_EXTRA_ARGS (default "--ignore-encoding"), OUT_DIR, CLUSTER=1 to run
# against a single-node cluster instead (once cluster mode exists).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNNER=${RUNNER:-../shared/conformance/redis-tcl/run-redis-tcl.sh}
# In cluster mode the bus port (PORT + 10000) must be free and in range too.
PORT=$(python3 -c 'from tests.support import free_cluster_port; print(free_cluster_port())')
WORKDIR=$(mktemp -d)
EXTRA=()
if [ "${CLUSTER:-0}" = 1 ]; then EXTRA=(--cluster-enabled yes); fi
python3 -m pyredis_cluster --port "$PORT" --dir "$WORKDIR" --enable-debug-command yes "${EXTRA[@]}" >"$WORKDIR/node.log" 2>&1 &
NODE_PID=$!
trap 'kill $NODE_PID 2>/dev/null; wait $NODE_PID 2>/dev/null; rm -rf "$WORKDIR"' EXIT
for _ in $(seq 100); do redis-cli -p "$PORT" ping >/dev/null 2>&1 && break; sleep 0.05; done
# A random base port for the suite's own helper sockets, so parallel runs do not clash.
export TCL_BASEPORT=${TCL_BASEPORT:-$(( 21000 + RANDOM % 8000 ))}
export TCL_EXTRA_ARGS=${TCL_EXTRA_ARGS:---ignore-encoding}
export OUT_DIR=${OUT_DIR:-$PWD/.tcl-results}
if [ "${CLUSTER:-0}" = 1 ]; then
  redis-cli -p "$PORT" cluster addslotsrange 0 16383 >/dev/null
  # A fresh primary keeps cluster_state:fail for 2 s after start-up (as Redis does).
  for _ in $(seq 100); do redis-cli -p "$PORT" cluster info | grep -q '^cluster_state:ok' && break; sleep 0.1; done
  "$RUNNER" "$PORT" "$@"
else
  STANDALONE=1 "$RUNNER" "$PORT" "$@"
fi
