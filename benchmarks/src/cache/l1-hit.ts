/**
 * Scenario 1, L1 hit: `getOrSet` of a key already in the in-process tier, in a tight awaited loop.
 * Floor: lru-cache `get` (which our L1 and bentocache's memory driver are built on), awaited in the
 * same async loop; the bare synchronous loop is printed too, to show what `await` alone costs.
 */
import { LRUCache } from 'lru-cache'
import {
  type Contender,
  interleave,
  printSummaries,
  type Sample,
  type Summary,
  timeSequential,
  timeSync,
} from '../harness'
import { type BenchContext, userValue } from './context'
import { createOtherBuilds, createOurs, createSubject, LIBRARIES, type Subject } from './subjects'

interface L1Contender extends Contender {
  run: (ms: number) => Promise<Sample>
  /** Factory calls during the measured loops: must stay 0, or it was not an L1 hit. */
  misses: () => number
}

const KEYS = Array.from({ length: 16 }, (_, i) => `user:${i}`)

export interface L1Result {
  rounds: number
  durationMs: number
  summaries: (Omit<Summary, 'rounds'> & {
    opsPerSecByRound: number[]
    setup: string
    factoryCallsWhileMeasuring: number
  })[]
  target: { wanted: string; ours: number; met: boolean }
}

export async function runL1Hit(ctx: BenchContext): Promise<L1Result> {
  const durationMs = ctx.quick ? 100 : 300
  const rounds = ctx.quick ? 3 : 7
  const values = KEYS.map((_, i) => userValue(i))

  const lru = new LRUCache<string, object>({ max: 1000 })
  KEYS.forEach((k, i) => lru.set(k, values[i]))
  const floorSync: L1Contender = {
    name: 'lru-cache get, sync loop',
    run: (ms) => {
      let i = 0
      return timeSync(() => lru.get(KEYS[i++ & 15]!), ms)
    },
    misses: () => 0,
  }
  const floor: L1Contender = {
    name: 'lru-cache get, awaited',
    floor: true,
    run: (ms) => {
      let i = 0
      return timeSequential(() => lru.get(KEYS[i++ & 15]!), ms)
    },
    misses: () => 0,
  }

  const setups = new Map<string, string>()
  const closers: Subject[] = []
  const contenderOf = async (name: string, subject: Subject): Promise<L1Contender> => {
    let calls = 0
    for (let i = 0; i < KEYS.length; i++) {
      const value = values[i]
      await subject.getOrSet(KEYS[i]!, () => value)
    }
    const factory = (): unknown => {
      calls++
      return values[0]
    }
    setups.set(name, subject.setup)
    closers.push(subject)
    return {
      name,
      run: (ms) => {
        let i = 0
        return timeSequential(() => subject.getOrSet(KEYS[i++ & 15]!, factory), ms)
      },
      misses: () => calls,
    }
  }

  const contenders: L1Contender[] = [floor, floorSync]
  for (const library of LIBRARIES) {
    const subject = await createSubject(library, {
      shape: 'memory',
      prefix: `${ctx.runId}_l1_${library}`,
      ttlMs: 600_000,
    })
    contenders.push(await contenderOf(library === 'scalekit' ? 'scalekit getOrSet' : library, subject))
  }
  // Ours with Redis configured and the invalidation bus on: an L1 hit then also checks the bus epoch.
  const tiered = createOurs({
    shape: 'tiered',
    prefix: `${ctx.runId}_l1_tiered`,
    ttlMs: 600_000,
    redisUrl: ctx.redisUrl,
  })
  await tiered.subject.getOrSet('probe', () => 1)
  for (let i = 0; i < 100 && tiered.health().l2?.busConnected !== true; i++)
    await new Promise((r) => setTimeout(r, 20))
  contenders.push(await contenderOf('scalekit getOrSet (L1 + Redis, bus on)', tiered.subject))
  // SK_CACHE_BEFORE: other builds of ours, memory-only, for a before/after in this run.
  for (const { label, subject } of await createOtherBuilds({
    shape: 'memory',
    prefix: `${ctx.runId}_l1`,
    ttlMs: 600_000,
  })) {
    contenders.push(await contenderOf(`scalekit getOrSet (${label})`, subject))
  }

  const summaries = await interleave(contenders, rounds, (c) => c.run(durationMs))
  printSummaries(
    `1. L1 hit getOrSet — ${rounds} rounds × ${durationMs} ms, median of rounds (p50/p99 over batches of 64 calls)`,
    summaries,
    'vs lru get awaited',
  )
  for (const c of contenders) {
    if (c.misses() > 0)
      console.log(`   ! ${c.name}: factory ran ${c.misses()} times while measuring (not all hits)`)
  }
  for (const s of closers) await s.close()

  const byName = new Map(contenders.map((c) => [c.name, c]))
  const ours = summaries.find((s) => s.name === 'scalekit getOrSet')!
  const target = {
    wanted: '≥ 40% of lru-cache get (awaited) ops/s',
    ours: ours.ratioToFloor ?? Number.NaN,
    met: (ours.ratioToFloor ?? 0) >= 0.4,
  }
  console.log(
    `   target: ${target.wanted}: ours ${(target.ours * 100).toFixed(1)}% → ${target.met ? 'MET' : 'NOT MET'}`,
  )
  return {
    rounds,
    durationMs,
    summaries: summaries.map(({ rounds: perRound, ...s }) => ({
      opsPerSecByRound: perRound.map((r) => Math.round(r.opsPerSec)),
      ...s,
      setup:
        setups.get(s.name) ??
        (s.name.includes('sync')
          ? 'new LRUCache({ max: 1000 }).get(), no await'
          : 'await new LRUCache({ max: 1000 }).get()'),
      factoryCallsWhileMeasuring: byName.get(s.name)!.misses(),
    })),
    target,
  }
}
