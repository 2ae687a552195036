/**
 * The @scalekit/cache benchmark suite: ours, the floors (raw lru-cache, raw ioredis) and the peers
 * (bentocache, cache-manager, @epic-web/cachified) in one process and one run, scenario by scenario.
 * Prints a table per scenario and writes benchmarks/results/cache.json.
 *
 *   pnpm bench                  # from the repo root: builds @scalekit/cache, runs everything
 *   pnpm --filter @scalekit/benchmarks bench:cache [l1 l2 stampede unreachable memory]
 *
 * Needs the shared Redis (SCALEKIT_REDIS_URL, default redis://127.0.0.1:6379). Every key carries
 * this run's id and is deleted at the end.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { machineInfo, selectScenarios } from '../harness'
import { cleanupRedis, createContext } from './context'
import { runL1Hit } from './l1-hit'
import { runL2Hit } from './l2-hit'
import { runMemory } from './memory'
import { runStampede } from './stampede'
import { runUnreachable } from './unreachable'

const SCENARIOS = {
  l1: runL1Hit,
  l2: runL2Hit,
  stampede: runStampede,
  unreachable: runUnreachable,
  memory: runMemory,
} as const

const ctx = createContext()
const selected = selectScenarios(SCENARIOS)

const machine = { ...machineInfo(), redis: '' }

const probe = new Redis(ctx.redisUrl, {
  lazyConnect: true,
  maxRetriesPerRequest: 0,
  connectTimeout: 2_000,
  retryStrategy: () => null,
})
probe.on('error', () => undefined)
try {
  await probe.connect()
  const info = await probe.info('server')
  machine.redis = /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown'
} catch (error) {
  console.error(
    `Redis is not reachable at ${ctx.redisUrl} (${(error as Error).message}). Start it with scripts/services.sh or set SCALEKIT_REDIS_URL.`,
  )
  process.exit(1)
} finally {
  probe.disconnect()
}

console.log(`@scalekit/cache benchmarks — ${machine.date}`)
console.log(
  `Node ${machine.node}, ${machine.cpu} × ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, Redis ${machine.redis} at ${ctx.redisUrl}`,
)
console.log(
  `run id ${ctx.runId}${ctx.quick ? ' (BENCH_QUICK: short loops, not for quoting)' : ''}; scenarios: ${selected.join(', ')}`,
)

const results: Record<string, unknown> = {}
const durations: Record<string, number> = {}
const started = performance.now()
try {
  for (const name of selected) {
    const t0 = performance.now()
    results[name] = await SCENARIOS[name](ctx)
    durations[name] = Math.round(performance.now() - t0)
  }
} finally {
  const deleted = await cleanupRedis(ctx).catch((error: unknown) => {
    console.error(`cleanup failed: ${(error as Error).message}`)
    return 0
  })
  console.log(`\ncleaned up ${deleted} Redis keys of this run`)
}

const targets = Object.entries(results).flatMap(([scenario, r]) => {
  const value = r as {
    target?: { wanted: string; met: boolean }
    targets?: { wanted: string; met: boolean }[]
  }
  return [...(value.targets ?? []), ...(value.target === undefined ? [] : [value.target])].map((t) => ({
    scenario,
    wanted: t.wanted,
    met: t.met,
  }))
})
console.log('\nTargets')
for (const t of targets) console.log(`  ${t.met ? 'MET    ' : 'NOT MET'}  ${t.scenario}: ${t.wanted}`)
const totalMs = Math.round(performance.now() - started)
console.log(
  `\ntook ${(totalMs / 1000).toFixed(1)} s (${Object.entries(durations)
    .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
    .join(', ')})`,
)

if (!ctx.quick) {
  const out = fileURLToPath(new URL('../../results/cache.json', import.meta.url))
  mkdirSync(fileURLToPath(new URL('../../results/', import.meta.url)), { recursive: true })
  const command =
    selected.length < Object.keys(SCENARIOS).length
      ? `pnpm --filter @scalekit/benchmarks bench:cache ${selected.join(' ')}`
      : 'pnpm bench'
  writeFileSync(
    out,
    `${JSON.stringify({ ...machine, command, durationsMs: durations, targets, scenarios: results }, null, 2)}\n`,
  )
  console.log(`wrote ${out}`)
}
// Peers left clients reconnecting to the dead ports of the outage scenario; don't wait for them.
process.exit(0)
