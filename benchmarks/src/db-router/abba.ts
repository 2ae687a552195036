/**
 * Scenario `abba`: the measurement of issue 11, independent of the six-way table. 20 reads in
 * flight (`SELECT 1` and `SELECT $1::int` alternating), a pool of 20 connections on each side, the
 * router and raw pg interleaved on the same replica (5434) in ABBA chunks. Reports the ratio of
 * their total throughput and of their p99 latency over every chunk, and raw pg against a second raw
 * pool (A/A) as the noise floor of the method.
 *
 * `SK_DBR_BEFORE=<path to an older build's dist/index.js>` adds that build as a third contender,
 * interleaved the same way, for a before/after in one run. `SK_DBR_ABBA_PRIMARY=1` adds reads on the
 * primary (5433): raw pg against raw pg with pg's own timers, and against a router without replicas.
 */
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import type { DbBenchContext } from './context'

const IN_FLIGHT = 20
const POOL_SIZE = 20

interface Reader {
  readonly name: string
  read(i: number): Promise<unknown>
  close(): Promise<void>
}

/** The router API this scenario needs: what every build since the start of issue 11 has. */
interface RouterLike {
  query(text: string, values?: unknown[]): Promise<unknown>
  close(): Promise<void>
}
type CreateRouter = (options: {
  primary: string | { connectionString: string; max: number }
  replicas: { connectionString: string; max: number }[]
}) => RouterLike

const alternate = (
  q: { query(text: string, values?: unknown[]): Promise<unknown> },
  i: number,
): Promise<unknown> => (i % 2 === 0 ? q.query('SELECT 1') : q.query('SELECT $1::int', [i]))

function rawReader(ctx: DbBenchContext, name: string, config: pg.PoolConfig = {}): Reader {
  const pool = new pg.Pool({ connectionString: ctx.replicaUrl, max: POOL_SIZE, ...config })
  pool.on('error', () => undefined)
  return { name, read: (i) => alternate(pool, i), close: () => pool.end() }
}

function routerReader(ctx: DbBenchContext, name: string, create: CreateRouter): Reader {
  const db = create({
    primary: ctx.primaryUrl,
    replicas: [{ connectionString: ctx.replicaUrl, max: POOL_SIZE }],
  })
  return { name, read: (i) => alternate(db, i), close: () => db.close() }
}

/** One chunk: `IN_FLIGHT` loops for `ms`; latencies (µs) go into `into`. Returns the ops done and the client CPU (µs, user + system) they took. */
async function chunk(reader: Reader, ms: number, into: number[]): Promise<{ ops: number; cpuUs: number }> {
  const cpu = process.cpuUsage()
  let ops = 0
  const end = performance.now() + ms
  const loop = async (index: number): Promise<void> => {
    for (let i = index; ; i += IN_FLIGHT) {
      const t0 = performance.now()
      if (t0 >= end) return
      await reader.read(i)
      into.push((performance.now() - t0) * 1000)
      ops++
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, (_, index) => loop(index)))
  const used = process.cpuUsage(cpu)
  return { ops, cpuUs: used.user + used.system }
}

function p99(values: number[]): number {
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.99 * sorted.length) - 1)] ?? Number.NaN
}

export interface AbbaPair {
  /** `b` against `a`: total ops of `b` ÷ total ops of `a` over the same chunks. */
  readonly name: string
  readonly ratio: number
  readonly p99Ratio: number
  readonly p99Us: { a: number; b: number }
  readonly opsPerSec: { a: number; b: number }
  /** Client CPU (this process, user + system) per read, µs. */
  readonly cpuUsPerRead: { a: number; b: number }
}

export interface AbbaResult {
  readonly statement: string
  readonly inFlight: number
  readonly poolSize: number
  readonly chunks: number
  readonly chunkMs: number
  readonly pairs: AbbaPair[]
  readonly targets: { wanted: string; met: boolean }[]
}

/** `a` and `b` in ABBA order, `chunks` chunks each. */
async function abba(a: Reader, b: Reader, chunks: number, chunkMs: number): Promise<AbbaPair> {
  await chunk(a, chunkMs, [])
  await chunk(b, chunkMs, [])
  const lat = { a: [] as number[], b: [] as number[] }
  const ops = { a: 0, b: 0 }
  const cpu = { a: 0, b: 0 }
  for (let c = 0; c < chunks; c++) {
    const order = c % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)
    for (const side of order) {
      const done = await chunk(side === 'a' ? a : b, chunkMs, lat[side])
      ops[side] += done.ops
      cpu[side] += done.cpuUs
    }
  }
  const seconds = (chunks * chunkMs) / 1000
  const p = { a: p99(lat.a), b: p99(lat.b) }
  return {
    name: `${b.name} vs ${a.name}`,
    ratio: ops.b / ops.a,
    p99Ratio: p.b / p.a,
    p99Us: p,
    opsPerSec: { a: ops.a / seconds, b: ops.b / seconds },
    cpuUsPerRead: { a: cpu.a / ops.a, b: cpu.b / ops.b },
  }
}

export async function runAbba(ctx: DbBenchContext): Promise<AbbaResult> {
  const chunks = ctx.quick ? 4 : 40
  const chunkMs = ctx.quick ? 100 : 250
  const { createDbRouter } = (await import('@scalekit/db-router')) as unknown as {
    createDbRouter: CreateRouter
  }
  const raw = rawReader(ctx, 'raw pg')
  const raw2 = rawReader(ctx, 'raw pg (2nd pool)')
  const router = routerReader(ctx, 'db-router', createDbRouter)
  const readers = [raw, raw2, router]
  const beforePath = process.env.SK_DBR_BEFORE
  let beforeCreate: CreateRouter | undefined
  if (beforePath !== undefined && beforePath !== '') {
    beforeCreate = ((await import(beforePath)) as { createDbRouter: CreateRouter }).createDbRouter
    readers.push(routerReader(ctx, 'db-router (before)', beforeCreate))
  }
  const [, , , before] = readers
  // SK_DBR_ABBA_PRIMARY=1: reads on the primary, as on each shard of the shards benchmark (no
  // replicas): raw pg there against the same pool with pg's two timers (pg-pool's checkout timer and
  // pg's per-query `query_timeout`, which db-router set on a primary pool it created) or with
  // `query_timeout` alone, and against a router without replicas (and the `SK_DBR_BEFORE` build's).
  const onPrimary = { connectionString: ctx.primaryUrl }
  // Opened pair by pair (a pool of 20 each: the primary's 100 connections would not hold them all).
  const primaryPairs: (() => [Reader, Reader])[] = []
  if (process.env.SK_DBR_ABBA_PRIMARY === '1') {
    const rawPrimary = (): Reader => rawReader(ctx, 'raw pg, primary', onPrimary)
    const timers = { ...onPrimary, connectionTimeoutMillis: 5000, query_timeout: 30_000 }
    primaryPairs.push(
      () => [rawPrimary(), rawReader(ctx, 'raw pg + pg timers, primary', timers)],
      () => [
        rawPrimary(),
        rawReader(ctx, 'raw pg + query_timeout, primary', { ...onPrimary, query_timeout: 30_000 }),
      ],
    )
    const builds: [string, CreateRouter][] = [['db-router', createDbRouter]]
    if (beforeCreate !== undefined) builds.push(['db-router (before)', beforeCreate])
    for (const [name, create] of builds) {
      primaryPairs.push(() => {
        const db = create({ primary: { ...onPrimary, max: POOL_SIZE }, replicas: [] })
        const reader = {
          name: `${name}, no replicas`,
          read: (i: number) => alternate(db, i),
          close: () => db.close(),
        }
        return [rawPrimary(), reader]
      })
    }
  }
  const pairs: AbbaPair[] = []
  try {
    // Connect every pool, classify both statements (as in a running app).
    for (const r of readers) await chunk(r, 200, [])
    pairs.push(await abba(raw, router, chunks, chunkMs))
    if (before !== undefined) pairs.push(await abba(raw, before, chunks, chunkMs))
    pairs.push(await abba(raw, raw2, chunks, chunkMs))
    for (const open of primaryPairs) {
      const [a, b] = open()
      try {
        await chunk(a, 200, [])
        await chunk(b, 200, [])
        pairs.push(await abba(a, b, chunks, chunkMs))
      } finally {
        await Promise.allSettled([a.close(), b.close()])
      }
    }
  } finally {
    await Promise.allSettled(readers.map((r) => r.close()))
  }
  console.log(
    `\n6. ${IN_FLIGHT} reads in flight, SELECT 1 / SELECT $1::int alternating, pools of ${POOL_SIZE}, same replica, ABBA ${chunks} × ${chunkMs} ms chunks each`,
  )
  for (const p of pairs) {
    console.log(
      `  ${p.name.padEnd(36)} throughput ${p.ratio.toFixed(3)}×  p99 ${p.p99Ratio.toFixed(3)}×  ` +
        `(${Math.round(p.opsPerSec.b)} vs ${Math.round(p.opsPerSec.a)} ops/s; p99 ${Math.round(p.p99Us.b)} vs ${Math.round(p.p99Us.a)} µs; ` +
        `client CPU ${p.cpuUsPerRead.b.toFixed(1)} vs ${p.cpuUsPerRead.a.toFixed(1)} µs per read)`,
    )
  }
  const ours = pairs[0]!
  return {
    statement: 'SELECT 1 / SELECT $1::int alternating',
    inFlight: IN_FLIGHT,
    poolSize: POOL_SIZE,
    chunks,
    chunkMs,
    pairs,
    targets: [
      {
        wanted: `db-router ≥ 0.95× raw pg at ${IN_FLIGHT} in flight, ABBA (${ours.ratio.toFixed(3)}×)`,
        met: ours.ratio >= 0.95,
      },
      {
        wanted: `db-router p99 ≤ 1.2× raw pg at ${IN_FLIGHT} in flight, ABBA (${ours.p99Ratio.toFixed(3)}×)`,
        met: ours.p99Ratio <= 1.2,
      },
    ],
  }
}
