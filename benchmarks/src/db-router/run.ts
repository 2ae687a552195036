/**
 * The @scalekit/db-router benchmark suite: ours, raw pg.Pool on the same replica (the floor), and
 * the peers (drizzle-orm withReplicas, TypeORM replication, Prisma's read-replicas extension) in
 * one process and one run. Prints a table per scenario and writes benchmarks/results/db-router.json.
 *
 *   pnpm --filter @scalekit/benchmarks bench:db-router [throughput spread stale failover misroute abba]
 *
 * Needs the replication primary and its two streaming replicas (SCALEKIT_PG_PRIMARY_URL,
 * SCALEKIT_PG_REPLICA_URL, SCALEKIT_PG_REPLICA2_URL; `scripts/services.sh up --replica`). Creates
 * one uniquely named table on the primary and drops it at the end. Pauses replay on the second
 * replica during the stale-read scenario only, and always resumes it.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { machineInfo, selectScenarios } from '../harness'
import { admin, createContext, createTable, dropTable, replayState } from './context'
import { runAbba } from './abba'
import { runFailover } from './failover'
import { runMisroute } from './misroute'
import type { PrismaKit } from './prisma'
import { preparePrisma } from './prisma'
import { runSpread } from './spread'
import { runStale } from './stale'
import { runThroughput } from './throughput'

const SCENARIOS = {
  throughput: runThroughput,
  spread: runSpread,
  stale: runStale,
  failover: runFailover,
  misroute: runMisroute,
  abba: runAbba,
} as const

const ctx = createContext()
const selected = selectScenarios(SCENARIOS)

const machine = { ...machineInfo(), postgres: '' }

try {
  const [row] = await admin<{ v: string }>(ctx.primaryUrl, "SELECT current_setting('server_version') AS v")
  machine.postgres = row?.v ?? 'unknown'
  for (const url of [ctx.replicaUrl, ctx.replica2Url]) {
    const [r] = await admin<{ rec: boolean }>(url, 'SELECT pg_is_in_recovery() AS rec')
    if (r?.rec !== true) throw new Error(`${url} is not a replica`)
  }
} catch (error) {
  console.error(
    `The primary and its replicas are not reachable (${(error as Error).message}). Start them with scripts/services.sh up --replica.`,
  )
  process.exit(1)
}

console.log(`@scalekit/db-router benchmarks — ${machine.date}`)
console.log(
  `Node ${machine.node}, ${machine.cpu} × ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, PostgreSQL ${machine.postgres}`,
)
console.log(
  `primary ${ctx.primaryUrl}, replicas ${ctx.replicaUrl} ${ctx.replica2Url}; table ${ctx.table}${ctx.quick ? ' (BENCH_QUICK: short loops, not for quoting)' : ''}; scenarios: ${selected.join(', ')}`,
)

const results: Record<string, unknown> = {}
const durations: Record<string, number> = {}
const started = performance.now()
let prisma: PrismaKit | undefined
let prismaStatus = ''
try {
  await createTable(ctx)
  try {
    // The abba scenario has no Prisma contender: alone, it skips generating the client.
    if (selected.every((name) => name === 'abba')) throw new Error('not used by the selected scenarios')
    prisma = await preparePrisma(ctx)
    prismaStatus =
      'ok: prisma 7 (prisma-client generator, @prisma/adapter-pg, WASM query compiler), generated at run time; no engine binary'
  } catch (error) {
    prismaStatus = `n/a: ${((error as { stderr?: string }).stderr?.trim() || (error as Error).message).split('\n').slice(-3).join(' ').slice(0, 300)}`
  }
  console.log(`Prisma read-replicas: ${prismaStatus}`)
  for (const name of selected) {
    const t0 = performance.now()
    results[name] = await SCENARIOS[name](ctx, prisma)
    durations[name] = Math.round(performance.now() - t0)
  }
} finally {
  prisma?.dispose()
  await dropTable(ctx).catch((error: unknown) => {
    console.error(`could not drop ${ctx.table}: ${(error as Error).message}`)
  })
  const after = await replayState(ctx.replica2Url).catch(() => undefined)
  console.log(
    `\ndropped ${ctx.table}; ${ctx.replica2Url} replay paused: ${String(after?.paused)}, recovery_min_apply_delay: ${after?.delay ?? '?'}`,
  )
}

const targets = Object.entries(results).flatMap(([scenario, r]) => {
  const value = r as { targets?: { wanted: string; met: boolean }[] }
  return (value.targets ?? []).map((t) => ({ scenario, wanted: t.wanted, met: t.met }))
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
  const out = fileURLToPath(new URL('../../results/db-router.json', import.meta.url))
  mkdirSync(fileURLToPath(new URL('../../results/', import.meta.url)), { recursive: true })
  const command = `pnpm --filter @scalekit/benchmarks bench:db-router${selected.length < Object.keys(SCENARIOS).length ? ` ${selected.join(' ')}` : ''}`
  writeFileSync(
    out,
    `${JSON.stringify({ ...machine, command, prisma: prismaStatus, durationsMs: durations, targets, scenarios: results }, null, 2)}\n`,
  )
  console.log(`wrote ${out}`)
}
process.exit(0)
