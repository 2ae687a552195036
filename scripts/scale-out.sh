#!/usr/bin/env bash
# The scale-out proof (issue 19): the Express example as a fleet of 3 web instances and 2 workers
# behind HAProxy, on the shared Redis, RabbitMQ and PostgreSQL (primary + 2 streaming replicas),
# checked under load and under faults; prints one line per check and exits non-zero if one fails.
#
#   sudo bash scripts/scale-out.sh            # the full run (a few minutes)
#   sudo bash scripts/scale-out.sh --reduced  # CI's shorter form (what the integration test runs)
#
# As root on Debian it installs what is missing: haproxy (apt-get), the services
# (scripts/services.sh up --all) and the workspace's dependencies (autocannon is a devDependency of
# examples/scale-out). Everything it starts is stopped by pid, also on failure and on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'scale-out: %s\n' "$*" >&2; }

if ! command -v haproxy >/dev/null; then
  if [[ $(id -u) -ne 0 ]]; then
    log "haproxy is not installed: run as root (it installs Debian's haproxy) or apt-get install haproxy"
    exit 1
  fi
  log "installing haproxy (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy >/dev/null 2>&1 ||
    { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y haproxy >/dev/null; }
fi
# The Debian package enables its own haproxy service on :80; ours is a private child process.

if [[ ! -d examples/scale-out/node_modules/autocannon ]]; then
  command -v pnpm >/dev/null || { log "pnpm is missing: run npm run setup first"; exit 1; }
  log "installing the workspace's dependencies (pnpm install)"
  pnpm install --frozen-lockfile >/dev/null
fi
for pkg in packages/*/; do
  if grep -q '"build"' "$pkg/package.json" 2>/dev/null && [[ ! -d $pkg/dist ]]; then
    log "building the packages (pnpm build)"
    pnpm build >/dev/null
    break
  fi
done

child=
stop() {
  if [[ -n $child ]] && kill -0 "$child" 2>/dev/null; then
    kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
}
trap 'stop; exit 130' INT TERM
trap stop EXIT

cd examples/scale-out
node --import tsx src/run.ts "$@" &
child=$!
set +e
wait "$child"
code=$?
set -e
child=
exit "$code"
