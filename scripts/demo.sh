#!/usr/bin/env bash
# `npm run demo`: on a machine with only Node.js 20+ and npm, installs what is missing (pnpm, the
# dependencies), builds the packages that have no build yet, then
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

# Build what has no build yet (a fresh clone). A build older than its sources is used as it is and
# named: rebuilding there could replace a working build with a half-edited one; `pnpm build` refreshes.
packages=(cache db-router queue session observability ratelimit)
missing=()
for p in "${packages[@]}"; do
  if [ ! -f "packages/$p/dist/index.js" ]; then
    missing+=("$p")
  elif [ -n "$(find "packages/$p/src" "packages/$p/package.json" -newer "packages/$p/dist/index.js" -print -quit)" ]; then
    echo "demo [2/3] note: packages/$p/dist is older than its sources (run pnpm build to refresh it)"
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "demo [2/3] build: present"
else
  n=0
  for p in "${missing[@]}"; do
    n=$((n + 1))
    echo "demo [2/3] building @scalekit/$p ($n/${#missing[@]})…"
    if ! log=$("${pnpm[@]}" --filter "@scalekit/$p" build 2>&1); then
      echo "$log"
      exit 1
    fi
  done
fi

echo "demo [3/3] starting the example app and driving the scenario…"
exec node --import tsx scripts/demo.ts "$@"
