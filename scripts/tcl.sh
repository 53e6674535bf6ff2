#!/usr/bin/env bash
# Run units of Redis's own TCL test suite (../shared/conformance/redis-tcl) against a
# fresh standalone node of ours:  scripts/tcl.sh unit/type/string unit/type/incr
# Environment: TCL_EXTRA_ARGS (default "--ignore-encoding"), OUT_DIR, CLUSTER=1 to run
# against a single-node cluster instead (once cluster mode exists).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNNER=${RUNNER:-../shared/conformance/redis-tcl/run-redis-tcl.sh}
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
  "$RUNNER" "$PORT" "$@"
else
  STANDALONE=1 "$RUNNER" "$PORT" "$@"
fi
