/**
 * Profiling aid for db-router's read path: one contender in a tight loop against the first replica,
 * for `node --cpu-prof`. Not part of the suite.
 *
 *   node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx src/db-router/profile.ts router 1 5000
 */
import { PerformanceObserver } from 'node:perf_hooks'
import { timeConcurrent } from '../harness'
import { createContext, createTable, dropTable, ROWS } from './context'
import { dbRouter, rawPg } from './subjects'

const [which = 'router', inFlight = '1', ms = '5000'] = process.argv.slice(2)
const ctx = createContext()
await createTable(ctx)
const s =
  which === 'raw'
    ? rawPg(ctx, ctx.replicaUrl)
    : which === 'raw-timeout'
      ? rawPg(ctx, ctx.replicaUrl, 'raw+t', 30_000)
      : dbRouter(ctx, [ctx.replicaUrl])
try {
  await Promise.all(Array.from({ length: 16 }, (_, i) => s.readPoint(i + 1)))
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
  const sample = await timeConcurrent(
    (loop, i) => s.readPoint(((loop * 7 + i) % ROWS) + 1),
    Number(inFlight),
    Number(ms),
  )
  const cpu = process.cpuUsage(cpu0)
  obs.disconnect()
  console.log(
    `gc: ${gcs} runs, ${gcMs.toFixed(0)} ms, ${((gcMs * 1000) / sample.ops).toFixed(2)} µs/op; user ${(cpu.user / sample.ops).toFixed(1)} sys ${(cpu.system / sample.ops).toFixed(1)} µs/op`,
  )
  console.log(
    which,
    inFlight,
    `${((cpu.user + cpu.system) / sample.ops).toFixed(1)} cpu µs/op`,
    Math.round(sample.opsPerSec),
    'ops/s',
    sample.p50Us.toFixed(1),
    'µs p50',
    sample.p99Us.toFixed(1),
    'µs p99',
  )
} finally {
  await s.close()
  await dropTable(ctx)
}
