/**
 * Measuring aid: a fixed number of reads of the abba workload (20 in flight, `SELECT 1` /
 * `SELECT $1::int` alternating, a pool of 20 on replica 5434), for an instruction count that the
 * machine's load does not move. Run it under callgrind twice with different counts; the difference
 * of the two totals over the difference of the counts is the client's instructions per read (start-up
 * and warm-up cancel out). Not part of the suite.
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --import tsx src/db-router/count.ts router 4000
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --import tsx src/db-router/count.ts router 14000
 *
 * `which`: `raw` (a pg.Pool), `raw-exit`, `raw-checkout`, `raw-timers` (the same with pg's options named below),
 * `primary` (the workspace build without replicas, reading on its primary), `router` (the workspace build), `before` (`SK_DBR_BEFORE=<dist/index.js>`).
 */
import { readFileSync } from 'node:fs'
import { PerformanceObserver } from 'node:perf_hooks'
import { createDbRouter } from '@scalekit/db-router'
import pg from 'pg'
import { createContext } from './context'

const IN_FLIGHT = 20
const POOL_SIZE = 20
const WARM_UP = 500

const [which = 'router', count = '10000'] = process.argv.slice(2)
const reads = Number(count)
const ctx = createContext()

interface Target {
  query(text: string, values?: unknown[]): Promise<unknown>
  close(): Promise<void>
}

type Create = typeof createDbRouter

async function open(): Promise<Target> {
  if (which.startsWith('raw')) {
    // `raw-exit`: pg's `allowExitOnIdle`, which db-router sets on the pools it creates; `raw-checkout`:
    // pg-pool's checkout timer (`connectionTimeoutMillis`); `raw-timers`: that and pg's per-query timer
    // (`query_timeout`), as on the pool db-router creates for a primary.
    const pool = new pg.Pool({
      connectionString: ctx.replicaUrl,
      max: POOL_SIZE,
      allowExitOnIdle: which === 'raw-exit',
      connectionTimeoutMillis: which === 'raw-checkout' || which === 'raw-timers' ? 5000 : undefined,
      query_timeout: which === 'raw-timers' ? 30_000 : undefined,
    })
    return { query: (text, values) => pool.query(text, values), close: () => pool.end() }
  }
  const create: Create =
    which === 'before'
      ? ((await import(process.env.SK_DBR_BEFORE ?? '')) as { createDbRouter: Create }).createDbRouter
      : createDbRouter
  // Under callgrind a read is some 50 times slower: no timeout or health check may fire meanwhile.
  // `primary`: a router without replicas (as each shard of the shards benchmark), reads on its primary.
  const node = { connectionString: ctx.replicaUrl, max: POOL_SIZE }
  const db = create({
    primary: which === 'primary' ? node : ctx.primaryUrl,
    replicas: which === 'primary' ? [] : [node],
    timeouts: { connect: 3_600_000, query: 3_600_000 },
    health: { interval: 3_600_000, timeout: 3_600_000 },
  })
  return { query: (text, values) => db.query(text, values), close: () => db.close() }
}

/** What the kernel and V8 say this process did so far: CPU, read/write syscalls, context switches, GC. */
function usage(): Record<string, number> {
  const cpu = process.cpuUsage()
  const io = readFileSync('/proc/self/io', 'utf8')
  const status = readFileSync('/proc/self/status', 'utf8')
  const field = (text: string, name: string): number =>
    Number(new RegExp(`${name}:\\s*(\\d+)`).exec(text)?.[1])
  return {
    user: cpu.user,
    system: cpu.system,
    reads: field(io, 'syscr'),
    writes: field(io, 'syscw'),
    voluntary: field(status, 'voluntary_ctxt_switches'),
    involuntary: field(status, 'nonvoluntary_ctxt_switches'),
    gcs,
    gcMs,
  }
}

let gcs = 0
let gcMs = 0
const gcObserver = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcs++
    gcMs += e.duration
  }
})
gcObserver.observe({ entryTypes: ['gc'] })

const t = await open()
let next = 0
const loop = async (until: number): Promise<void> => {
  while (next < until) {
    const i = next++
    await (i % 2 === 0 ? t.query('SELECT 1') : t.query('SELECT $1::int', [i]))
  }
}
// A warm-up outside the per-read figures below (the instruction count is the whole process's).
const warmUp = Math.min(WARM_UP, reads)
await Promise.all(Array.from({ length: IN_FLIGHT }, () => loop(warmUp)))
const before = usage()
const started = performance.now()
await Promise.all(Array.from({ length: IN_FLIGHT }, () => loop(reads)))
const elapsed = performance.now() - started
const after = usage()
await t.close()
gcObserver.disconnect()
// Every read answered, or the count means nothing (a failed read ends the run early).
console.log(`${which}: ${reads} reads`)
const measured = reads - warmUp
if (measured > 0) {
  const per = (k: string, scale = 1): string =>
    ((((after[k] ?? 0) - (before[k] ?? 0)) * scale) / measured).toFixed(2)
  console.log(
    `${which}: per read after ${warmUp} warm-up reads: user ${per('user')} µs, system ${per('system')} µs, ` +
      `read syscalls ${per('reads')}, write syscalls ${per('writes')}, context switches ${per('voluntary')} ` +
      `voluntary + ${per('involuntary')} involuntary, GC ${per('gcs', 1000)} per 1000 reads and ${per('gcMs', 1000)} µs; ` +
      `${Math.round((measured / elapsed) * 1000)} reads/s`,
  )
}
