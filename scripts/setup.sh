#!/usr/bin/env bash
# One-time (and idempotent) setup for a machine with only Node.js and npm:
# installs the pinned pnpm with npm (corepack's signature check fails on some machines),
# installs the workspace's dependencies from the lockfile, and, as root, installs and starts the
# services the integration tests use (scripts/services.sh up --all).
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(node -p 'require("./package.json").packageManager.split("@")[1]')
if [ "$(pnpm -v 2>/dev/null || true)" != "$want" ]; then
  echo "setup: installing pnpm@$want with npm"
  npm install -g --no-audit --no-fund "pnpm@$want"
fi

pnpm install --frozen-lockfile

if [ "$(id -u)" = "0" ]; then
  bash scripts/services.sh up --all
else
  echo "setup: not root, so services were not installed or started; run: sudo bash scripts/services.sh up --all"
fi
