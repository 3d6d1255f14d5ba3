#!/usr/bin/env bash
# `npm start`: infrastructure, build, migrate + demo data, then this node's services.
# SERVICES=all (default) runs every service; SERVICES=api,queue runs a subset (moleculer-runner).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ "${SKIP_INFRA:-}" = "1" ] || bash scripts/infra.sh up
npm run --silent build
node dist/scripts/seed.js
if [ -z "${SERVICES:-}" ] || [ "${SERVICES}" = "all" ]; then
  unset SERVICES
  exec moleculer-runner --config dist/moleculer.config.js dist/services
fi
export SERVICEDIR=dist/services
exec moleculer-runner --config dist/moleculer.config.js
