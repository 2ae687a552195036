/**
 * Profiling aid for db-router's read path: one contender in a tight loop against the first replica,
 * for `node --cpu-prof`. Not part of the suite. `workload`: `point` (the throughput scenario's
 * statement, pg's default pool of 10) or `abba` (the abba scenario's: `SELECT 1` / `SELECT $1::int`
 * alternating, pools of 20).
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx src/db-router/profile.ts router 20 5000 abba
 */
import { PerformanceObserver } from 'node:perf_hooks'
import { createDbRouter } from '@scalekit/db-router'
import pg from 'pg'
import { timeConcurrent } from '../harness'
import { createContext, createTable, dropTable, ROWS } from './context'
import { dbRouter, rawPg } from './subjects'

interface Target {
  read(i: number): Promise<unknown>
  close(): Promise<void>
}

const [which = 'router', inFlight = '1', ms = '5000', workload = 'point'] = process.argv.slice(2)
const ctx = createContext()
await createTable(ctx)

type Create = typeof createDbRouter
// `before`: an older build (SK_DBR_BEFORE=<its dist/index.js>), for a before/after profile.
const create: Create =
  which === 'before'
    ? ((await import(process.env.SK_DBR_BEFORE ?? '')) as { createDbRouter: Create }).createDbRouter
    : createDbRouter

function target(): Target {
  if (workload === 'abba') {
    if (which === 'raw') {
      const pool = new pg.Pool({ connectionString: ctx.replicaUrl, max: 20 })
      return {
        read: (i) => (i % 2 === 0 ? pool.query('SELECT 1') : pool.query('SELECT $1::int', [i])),
        close: () => pool.end(),
      }
    }
    const db = create({ primary: ctx.primaryUrl, replicas: [{ connectionString: ctx.replicaUrl, max: 20 }] })
    return {
      read: (i) => (i % 2 === 0 ? db.query('SELECT 1') : db.query('SELECT $1::int', [i])),
      close: () => db.close(),
    }
  }
  const s =
    which === 'raw'
      ? rawPg(ctx, ctx.replicaUrl)
      : which === 'raw-timeout'
        ? rawPg(ctx, ctx.replicaUrl, 'raw+t', 30_000)
        : dbRouter(ctx, [ctx.replicaUrl])
  return { read: (i) => s.readPoint((i % ROWS) + 1), close: () => s.close() }
}

const t = target()
try {
  await Promise.all(Array.from({ length: 20 }, (_, i) => t.read(i + 1)))
  let gcs = 0
  let gcMs = 0
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      gcs++
      gcMs += e.duration
    }
  })
  obs.observe({ entryTypes: ['gc'] })
  const cpu0 = process.cpuUsage()
  const sample = await timeConcurrent((loop, i) => t.read(loop * 7 + i), Number(inFlight), Number(ms))
  const cpu = process.cpuUsage(cpu0)
  obs.disconnect()
  console.log(
    `gc: ${gcs} runs, ${gcMs.toFixed(0)} ms, ${((gcMs * 1000) / sample.ops).toFixed(2)} µs/op; user ${(cpu.user / sample.ops).toFixed(1)} sys ${(cpu.system / sample.ops).toFixed(1)} µs/op`,
  )
  console.log(
    which,
    inFlight,
    workload,
    `${((cpu.user + cpu.system) / sample.ops).toFixed(1)} cpu µs/op`,
    Math.round(sample.opsPerSec),
    'ops/s',
    sample.p50Us.toFixed(1),
    'µs p50',
    sample.p99Us.toFixed(1),
    'µs p99',
  )
} finally {
  await t.close()
  await dropTable(ctx)
}
