#!/usr/bin/env bash
# The one test command (README, `npm test`, .ci/run): setup if needed, then lint, typecheck, build,
# package checks and every unit and integration test (build first: the benchmarks and examples
# type-check against the packages as published). vitest's summary closes the output.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${SCALEKIT_SKIP_SETUP:-}" != "1" ]; then bash scripts/setup.sh; fi
pnpm run verify
