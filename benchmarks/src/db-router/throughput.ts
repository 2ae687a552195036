/**
 * Scenario 1: replica-read throughput and latency, `SELECT id, val, name FROM t WHERE id = $1`
 * (a 100-row table), at 1 and 16 in flight. Every contender reads the same replica (5434); its
 * pool has pg's default 10 connections. Rounds interleave the contenders in a rotating order.
 */
import { interleave, median, printSummaries, timeConcurrent } from '../harness'
import type { Summary } from '../harness'
import type { DbBenchContext } from './context'
import { ROWS } from './context'
import type { PrismaKit } from './prisma'
import type { Subject } from './subjects'
import { dbRouter, drizzleReplicas, rawPg, typeormReplication } from './subjects'

export interface HeadToHead {
  concurrency: number
  pairs: number
  slotMs: number
  /** Median over the pairs of (db-router ops/s ÷ raw pg ops/s in the adjacent slot). */
  ratio: number
  /** Middle half of the pair ratios (25th–75th percentile). */
  ratioIqr: [number, number]
  /** Median client CPU (this process, user + system) per query, µs. */
  cpuUsPerQuery: { rawPg: number; dbRouter: number }
}

export interface ThroughputResult {
  statement: string
  roundMs: number
  rounds: number
  byConcurrency: { concurrency: number; summaries: Summary[] }[]
  headToHead: HeadToHead[]
  targets: { wanted: string; met: boolean }[]
}

/**
 * db-router and raw pg alone, in adjacent slots (A B, then B A, and so on), many short pairs: a
 * ratio from neighbours in time is what survives a machine whose speed drifts by the second. Client
 * CPU per query is measured too: steadier than throughput when the database shares the cores.
 */
async function headToHead(
  floor: Subject,
  ours: Subject,
  concurrency: number,
  pairs: number,
  slotMs: number,
): Promise<HeadToHead> {
  const slot = async (s: Subject): Promise<{ rate: number; cpu: number }> => {
    const before = process.cpuUsage()
    const sample = await timeConcurrent(
      (loop, i) => s.readPoint(((loop * 7 + i) % ROWS) + 1),
      concurrency,
      slotMs,
    )
    const used = process.cpuUsage(before)
    return { rate: sample.opsPerSec, cpu: (used.user + used.system) / Math.max(1, sample.ops) }
  }
  await slot(floor)
  await slot(ours)
  const ratios: number[] = []
  const cpu = { rawPg: [] as number[], dbRouter: [] as number[] }
  for (let p = 0; p < pairs; p++) {
    const first = p % 2 === 0
    const a = await slot(first ? floor : ours)
    const b = await slot(first ? ours : floor)
    const [f, o] = first ? [a, b] : [b, a]
    ratios.push(o.rate / f.rate)
    cpu.rawPg.push(f.cpu)
    cpu.dbRouter.push(o.cpu)
  }
  const sorted = [...ratios].sort((x, y) => x - y)
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return {
    concurrency,
    pairs,
    slotMs,
    ratio: median(ratios),
    ratioIqr: [at(0.25), at(0.75)],
    cpuUsPerQuery: { rawPg: median(cpu.rawPg), dbRouter: median(cpu.dbRouter) },
  }
}

export async function runThroughput(
  ctx: DbBenchContext,
  prisma: PrismaKit | undefined,
): Promise<ThroughputResult> {
  // Many short rounds: the neighbours' load on a shared machine comes in bursts of seconds, and the
  // median of per-round ratios shrugs off the rounds a burst hit.
  const roundMs = ctx.quick ? 150 : 250
  const rounds = ctx.quick ? 2 : 13
  const subjects: (Subject & { floor?: boolean })[] = [
    { ...rawPg(ctx, ctx.replicaUrl), floor: true },
    rawPg(ctx, ctx.replicaUrl, 'pg.Pool + query_timeout 30 s', 30_000),
    dbRouter(ctx, [ctx.replicaUrl]),
    drizzleReplicas(ctx, [ctx.replicaUrl]),
    await typeormReplication(ctx, [ctx.replicaUrl]),
  ]
  if (prisma !== undefined) subjects.push(prisma.create([ctx.replicaUrl]))
  const byConcurrency: ThroughputResult['byConcurrency'] = []
  const pairs: HeadToHead[] = []
  try {
    // Connect every pool and classify the statement (the cache is what a running app has).
    for (const s of subjects)
      await Promise.all(Array.from({ length: 16 }, (_, i) => s.readPoint((i % ROWS) + 1)))
    for (const concurrency of [1, 16]) {
      const summaries = await interleave(subjects, rounds, (s) =>
        timeConcurrent((loop, i) => s.readPoint(((loop * 7 + i) % ROWS) + 1), concurrency, roundMs),
      )
      printSummaries(
        `1. Replica read, ${concurrency} in flight (same replica; median of ${rounds} rounds × ${roundMs} ms)`,
        summaries,
        'vs raw pg',
      )
      byConcurrency.push({ concurrency, summaries })
    }
    const [floor, , ours] = subjects
    for (const concurrency of [1, 16]) {
      const h = await headToHead(floor!, ours!, concurrency, ctx.quick ? 4 : 30, ctx.quick ? 100 : 200)
      console.log(
        `\n1b. db-router and raw pg head to head, ${concurrency} in flight (${h.pairs} adjacent pairs × ${h.slotMs} ms): ${(h.ratio * 100).toFixed(1)}% ` +
          `(middle half of the pairs ${(h.ratioIqr[0] * 100).toFixed(0)}–${(h.ratioIqr[1] * 100).toFixed(0)}%); client CPU per query raw pg ${h.cpuUsPerQuery.rawPg.toFixed(1)} µs, db-router ${h.cpuUsPerQuery.dbRouter.toFixed(1)} µs`,
      )
      pairs.push(h)
    }
  } finally {
    await Promise.allSettled(subjects.map((s) => s.close()))
  }
  // Judged on the head-to-head pairs (the six-way table's ratios are printed beside it).
  const targets = pairs.map(({ concurrency, ratio }) => {
    const table =
      byConcurrency
        .find((b) => b.concurrency === concurrency)
        ?.summaries.find((s) => s.name === '@scalekit/db-router')?.ratioToFloor ?? Number.NaN
    return {
      wanted: `db-router ≥ 0.95× raw pg on the same replica at ${concurrency} in flight (head to head ${ratio.toFixed(2)}×; six-way table ${table.toFixed(2)}×)`,
      met: ratio >= 0.95,
    }
  })
  return {
    statement: 'SELECT id, val, name FROM <table> WHERE id = $1',
    roundMs,
    rounds,
    byConcurrency,
    headToHead: pairs,
    targets,
  }
}
