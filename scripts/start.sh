#!/usr/bin/env bash
# `npm start`: infrastructure, build, migrate + demo data (development, or SEED_DEMO=1), then this node's services.
#   SERVICES=all (default) runs every service in one process; SERVICES=api,auth runs a subset.
#   In development (NODE_ENV != production) the data-platform stand-in is started too when
#   DATA_PLATFORM_URL points at this machine and nothing answers there (STANDIN=0 disables).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "${SKIP_INFRA:-}" = "1" ] || bash scripts/infra.sh up
npm run --silent build
node dist/scripts/seed.js

standin_pid=""
dp_url="${DATA_PLATFORM_URL:-http://127.0.0.1:4000}"
dp_rest="${dp_url#*://}"; dp_hostport="${dp_rest%%/*}"; dp_host="${dp_hostport%%:*}"; dp_port="${dp_hostport##*:}"
if [ "${NODE_ENV:-development}" != "production" ] && [ "${STANDIN:-1}" = "1" ] \
   && { [ "$dp_host" = "127.0.0.1" ] || [ "$dp_host" = "localhost" ]; } \
   && ! (exec 3<>"/dev/tcp/127.0.0.1/$dp_port") 2>/dev/null; then
  DATA_PLATFORM_PORT="$dp_port" node dist/scripts/data-platform-standin.js &
  standin_pid=$!
fi
stop_standin() { [ -n "$standin_pid" ] && kill "$standin_pid" 2>/dev/null || true; }
trap stop_standin EXIT
trap 'exit 143' TERM INT

# V8 heap limits for the node (scripts/node-memory-flags): under load V8 grows the heap far past the
# live data (a node reached 450-540 MB RSS); a 192 MB old space and 16 MB semi-spaces keep it near
# 200-220 MB for 10-20 % of throughput (more GC; README, Benchmarks). NODE_OPTIONS given by the caller wins.
node_options="$(cat scripts/node-memory-flags) ${NODE_OPTIONS:-}"
if [ -z "${SERVICES:-}" ] || [ "${SERVICES}" = "all" ]; then
  unset SERVICES
  NODE_OPTIONS="$node_options" moleculer-runner --config dist/moleculer.config.js dist/services &
else
  SERVICEDIR=dist/services NODE_OPTIONS="$node_options" moleculer-runner --config dist/moleculer.config.js &
fi
node_pid=$!
# Forward a stop to the node so it finishes in-flight requests (graceful shutdown).
trap 'kill -TERM "$node_pid" 2>/dev/null; wait "$node_pid"; exit 143' TERM INT
wait "$node_pid"
