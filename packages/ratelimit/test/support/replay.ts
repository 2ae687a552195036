import fc from 'fast-check'
import { expect } from 'vitest'
import type { RedisClient } from '@scalekit/internal'
import { type Algorithm, models, type Params } from '../../src/algorithms'
import { RedisStore } from '../../src/drivers/redis/store'
import type { StoreOutcome } from '../../src/drivers/store'

/** One step of an arrival sequence: a pause, then `together` requests sent at once. */
export interface Arrival {
  readonly gapMs: number
  readonly together: number
  readonly cost: number
  readonly carry: number
}

export const arrival = (maxCost: number): fc.Arbitrary<Arrival> =>
  fc.record({
    gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 12 })),
    together: fc.integer({ min: 1, max: 4 }),
    cost: fc.integer({ min: 0, max: maxCost }),
    carry: fc.oneof({ weight: 5, arbitrary: fc.constant(0) }, fc.double({ min: 0, max: 3, noNaN: true })),
  })

/**
 * Sends `arrivals` to the script of `algorithm` on `client`, then replays them through the model
 * with the times the script read from Redis's clock, and expects the same outcome for each, to the
 * µs. One key on one connection runs the calls in the order they were sent: that is the replay's.
 */
export async function expectScriptMatchesModel(
  client: RedisClient,
  key: string,
  algorithm: Algorithm,
  p: Params,
  arrivals: readonly Arrival[],
): Promise<void> {
  const store = new RedisStore(() => client, algorithm, p)
  const sent: { cost: number; carry: number; outcome: Promise<StoreOutcome> }[] = []
  for (const a of arrivals) {
    if (a.gapMs > 0) await new Promise((resolve) => setTimeout(resolve, a.gapMs))
    const cost = Math.min(a.cost, p.burst)
    const batch = Array.from({ length: a.together }, () => ({
      cost,
      carry: a.carry,
      outcome: store.take(key, cost, a.carry),
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
