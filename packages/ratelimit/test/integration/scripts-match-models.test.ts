import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { ALGORITHMS, type Algorithm, gcraParams, models, type Params } from '../../src/algorithms'
import { RedisStore } from '../../src/drivers/redis/store'
import type { StoreOutcome } from '../../src/drivers/store'
import { sharedRedis } from '../support/redis'

/**
 * The property behind every algorithm: for random arrival sequences (gaps, concurrent requests,
 * costs, carried consumption), the Lua script on the real Redis and the pure model in
 * src/algorithms — given the times the script read from Redis's clock (TIME) — decide alike, to
 * the µs. One connection runs the calls in the order they were sent, so that order is the replay's.
 */
const { redis, namespace, cleanup } = sharedRedis('rl-prop')
afterAll(cleanup)

interface Arrival {
  readonly gapMs: number
  readonly together: number
  readonly cost: number
  readonly carry: number
}

const arrival = (maxCost: number): fc.Arbitrary<Arrival> =>
  fc.record({
    gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 12 })),
    together: fc.integer({ min: 1, max: 4 }),
    cost: fc.integer({ min: 0, max: maxCost }),
    carry: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.double({ min: 0, max: 3, noNaN: true })),
  })

const setup = fc.record({
  limit: fc.integer({ min: 1, max: 12 }),
  periodMs: fc.integer({ min: 5, max: 60 }),
  burstShare: fc.double({ min: 0, max: 1, noNaN: true }),
})

let run = 0

async function replay(algorithm: Algorithm, p: Params, arrivals: readonly Arrival[]): Promise<void> {
  const store = new RedisStore(() => redis, algorithm, p)
  const key = `rl:${namespace}:${algorithm}:${run++}`
  const sent: { cost: number; carry: number; outcome: Promise<StoreOutcome> }[] = []
  for (const a of arrivals) {
    if (a.gapMs > 0) await new Promise((resolve) => setTimeout(resolve, a.gapMs))
    const batch = Array.from({ length: a.together }, () => ({
      cost: Math.min(a.cost, p.burst),
      carry: a.carry,
      outcome: store.take(key, Math.min(a.cost, p.burst), a.carry),
    }))
    sent.push(...batch)
    await Promise.all(batch.map((b) => b.outcome))
  }
  let state: unknown
  for (const [i, s] of sent.entries()) {
    const got = await s.outcome
    const step = models[algorithm].step(state, got.nowUs, s.cost, s.carry, p)
    state = step.state
    expect({ i, ...step.outcome }).toStrictEqual({
      i,
      allowed: got.allowed,
      remaining: got.remaining,
      resetAfterUs: got.resetAfterUs,
      retryAfterUs: got.retryAfterUs,
      emptyForUs: got.emptyForUs,
    })
  }
}

describe.each(ALGORITHMS)('%s: the Lua script and the reference model', (algorithm) => {
  it('agree over random arrival sequences', async () => {
    await fc.assert(
      fc.asyncProperty(setup, fc.array(arrival(12), { minLength: 1, maxLength: 25 }), async (s, arrivals) => {
        const windowed = algorithm.includes('window') || algorithm === 'sliding-log'
        const burst = windowed ? s.limit : Math.max(1, Math.round(s.burstShare * s.limit * 2))
        await replay(algorithm, gcraParams(s.limit, s.periodMs, burst), arrivals)
      }),
      { numRuns: 40 },
    )
  })
})
