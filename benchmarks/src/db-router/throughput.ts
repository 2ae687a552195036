/**
 * Scenario 1: replica-read throughput and latency, `SELECT id, val, name FROM t WHERE id = $1`
 * (a 100-row table), at 1 and 16 in flight. Every contender reads the same replica (5434); its
 * pool has pg's default 10 connections. Rounds interleave the contenders in a rotating order.
 */
import { interleave, printSummaries, timeConcurrent } from '../harness'
import type { Summary } from '../harness'
import type { DbBenchContext } from './context'
import { ROWS } from './context'
import type { PrismaKit } from './prisma'
import type { Subject } from './subjects'
import { dbRouter, drizzleReplicas, rawPg, typeormReplication } from './subjects'

export interface ThroughputResult {
  statement: string
  roundMs: number
  rounds: number
  byConcurrency: { concurrency: number; summaries: Summary[] }[]
  targets: { wanted: string; met: boolean }[]
}

export async function runThroughput(ctx: DbBenchContext, prisma: PrismaKit | undefined): Promise<ThroughputResult> {
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
  try {
    // Connect every pool and classify the statement (the cache is what a running app has).
    for (const s of subjects) await Promise.all(Array.from({ length: 16 }, (_, i) => s.readPoint((i % ROWS) + 1)))
    for (const concurrency of [1, 16]) {
      const summaries = await interleave(subjects, rounds, (s) => timeConcurrent((loop, i) => s.readPoint(((loop * 7 + i) % ROWS) + 1), concurrency, roundMs))
      printSummaries(`1. Replica read, ${concurrency} in flight (same replica; median of ${rounds} rounds × ${roundMs} ms)`, summaries, 'vs raw pg')
      byConcurrency.push({ concurrency, summaries })
    }
  } finally {
    await Promise.allSettled(subjects.map((s) => s.close()))
  }
  const targets = byConcurrency.map(({ concurrency, summaries }) => {
    const ours = summaries.find((s) => s.name === '@scalekit/db-router')!
    const ratio = ours.ratioToFloor ?? Number.NaN
    return { wanted: `db-router ≥ 0.95× raw pg on the same replica at ${concurrency} in flight (got ${ratio.toFixed(2)}×)`, met: ratio >= 0.95 }
  })
  return { statement: 'SELECT id, val, name FROM <table> WHERE id = $1', roundMs, rounds, byConcurrency, targets }
}
