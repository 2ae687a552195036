/**
 * The @scalekit/queue benchmark suite: ours, the floor (raw amqplib) and the peers
 * (amqp-connection-manager, rascal, rabbitmq-client) in one process and one run.
 * Prints a table per scenario and writes benchmarks/results/queue.json.
 *
 *   pnpm --filter @scalekit/benchmarks bench:queue [publish e2e drain poison memory faults]
 *
 * Needs the shared RabbitMQ (SCALEKIT_AMQP_URL, default amqp://guest:guest@127.0.0.1:5672). Every
 * exchange and queue carries this run's id and is deleted at the end.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { machineInfo, selectScenarios } from '../harness'
import { cleanupBroker, createContext, openAdmin } from './context'
import type { Admin, QueueBenchContext } from './context'
import { createSubjects } from './subjects'
import type { QueueSubject } from './subjects'
import { runFaults } from './faults'
import { runMemoryDown } from './memory'
import { runPoison } from './poison'
import { runDrain, runEndToEnd, runPublish } from './throughput'

interface Shared {
  admin: Admin
  subjects: QueueSubject[]
}

const SCENARIOS: Record<string, (ctx: QueueBenchContext, shared: Shared) => Promise<unknown>> = {
  publish: async (ctx, s) => runPublish(ctx, s.subjects),
  e2e: async (ctx, s) => runEndToEnd(ctx, s.subjects),
  drain: async (ctx, s) => runDrain(ctx, s.subjects),
  poison: async (ctx, s) => runPoison(ctx, s.admin),
  memory: async (ctx) => runMemoryDown(ctx),
  faults: async (ctx) => runFaults(ctx),
}

const ctx = createContext()
const selected = selectScenarios(SCENARIOS)

const machine = { ...machineInfo(), rabbitmq: '' }

let admin: Admin
try {
  admin = await openAdmin(ctx.url)
  const props = (admin.connection as unknown as { connection: { serverProperties?: { version?: string } } })
    .connection.serverProperties
  machine.rabbitmq = props?.version ?? 'unknown'
} catch (error) {
  console.error(
    `RabbitMQ is not reachable at ${ctx.url} (${(error as Error).message}). Start it with scripts/services.sh or set SCALEKIT_AMQP_URL.`,
  )
  process.exit(1)
}

console.log(`@scalekit/queue benchmarks — ${machine.date}`)
console.log(
  `Node ${machine.node}, ${machine.cpu} × ${machine.cores} cores, ${machine.memoryGiB} GiB, ${machine.os}, load ${machine.loadAverage1m}, RabbitMQ ${machine.rabbitmq} at ${new URL(ctx.url).host}`,
)
console.log(
  `run id ${ctx.runId}${ctx.quick ? ' (BENCH_QUICK: short loops, not for quoting)' : ''}; scenarios: ${selected.join(', ')}`,
)

const results: Record<string, unknown> = {}
const durations: Record<string, number> = {}
const started = performance.now()
let subjects: QueueSubject[] = []
try {
  subjects = await createSubjects(ctx, admin)
  const shared: Shared = { admin, subjects }
  for (const name of selected) {
    const t0 = performance.now()
    results[name] = await SCENARIOS[name]!(ctx, shared)
    durations[name] = Math.round(performance.now() - t0)
  }
} finally {
  for (const s of subjects) await s.close().catch(() => undefined)
  await admin.close()
  const deleted = await cleanupBroker(ctx).catch((error: unknown) => {
    console.error(`cleanup failed: ${(error as Error).message}`)
    return 0
  })
  console.log(`\ndeleted ${deleted} queues and exchanges of this run`)
}

const targets = Object.entries(results).flatMap(([scenario, r]) => {
  const value = r as { targets?: { wanted: string; met: boolean; value?: number }[] }
  return (value.targets ?? []).map((t) => ({ scenario, ...t }))
})
console.log('\nTargets')
for (const t of targets)
  console.log(
    `  ${t.met ? 'MET    ' : 'NOT MET'}  ${t.scenario}: ${t.wanted}${t.value === undefined ? '' : ` (got ${t.value.toFixed(2)})`}`,
  )
const totalMs = Math.round(performance.now() - started)
console.log(
  `\ntook ${(totalMs / 1000).toFixed(1)} s (${Object.entries(durations)
    .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)} s`)
    .join(', ')})`,
)

if (!ctx.quick) {
  const out = fileURLToPath(new URL('../../results/queue.json', import.meta.url))
  mkdirSync(fileURLToPath(new URL('../../results/', import.meta.url)), { recursive: true })
  const env = ['SK_QUEUE_BEFORE', 'SK_QUEUE_WINDOW', 'SK_QUEUE_PEERS', 'SK_QUEUE_RAW_CHANNELS']
    .filter((k) => process.env[k] !== undefined)
    .map((k) => `${k}=${process.env[k]} `)
    .join('')
  const command = `${env}pnpm --filter @scalekit/benchmarks bench:queue${selected.length < Object.keys(SCENARIOS).length ? ` ${selected.join(' ')}` : ''}`
  const setups = Object.fromEntries(subjects.map((s) => [s.name, s.setup]))
  writeFileSync(
    out,
    `${JSON.stringify({ ...machine, command, durationsMs: durations, contenders: setups, targets, scenarios: results }, null, 2)}\n`,
  )
  console.log(`wrote ${out}`)
}
process.exit(0)
