#!/usr/bin/env bash
# `npm run demo`: on a machine with only Node.js 20+ and npm, installs what is missing (pnpm, the
# dependencies), builds the packages if their build is missing or older than their sources, then
# runs scripts/demo.ts: the example app on embedded defaults (or on the services the environment
# names), a short scenario against it, a few lines of what happened, and a clean stop.
set -euo pipefail
cd "$(dirname "$0")/.."

want=$(node -p 'require("./package.json").packageManager.split("@")[1]')
pnpm=(pnpm)
if [ "$(pnpm -v 2>/dev/null || true)" != "$want" ]; then
  echo "demo [0/3] installing pnpm@$want with npm…"
  if ! npm install -g --no-audit --no-fund --loglevel=error "pnpm@$want"; then
    echo "demo: a global install was refused; using npx pnpm@$want instead"
    pnpm=(npx --yes "pnpm@$want")
  fi
fi

if [ ! -f node_modules/.modules.yaml ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  echo "demo [1/3] installing dependencies from the lockfile (pnpm shows its progress)…"
  "${pnpm[@]}" install --frozen-lockfile
else
  echo "demo [1/3] dependencies: up to date"
fi

packages=(cache db-router queue session observability ratelimit)
stale=()
for p in "${packages[@]}"; do
  if [ ! -f "packages/$p/dist/index.js" ] ||
    [ -n "$(find "packages/$p/src" packages/internal/src "packages/$p/package.json" -newer "packages/$p/dist/index.js" -print -quit)" ]; then
    stale+=("$p")
  fi
done
if [ ${#stale[@]} -eq 0 ]; then
  echo "demo [2/3] build: up to date"
else
  n=0
  for p in "${stale[@]}"; do
    n=$((n + 1))
    echo "demo [2/3] building @scalekit/$p ($n/${#stale[@]})…"
    if ! log=$("${pnpm[@]}" --filter "@scalekit/$p" build 2>&1); then
      echo "$log"
      exit 1
    fi
  done
fi

echo "demo [3/3] starting the example app and driving the scenario…"
exec node --import tsx scripts/demo.ts "$@"
