import fc from 'fast-check'
import { afterAll, describe, it } from 'vitest'
import { ALGORITHMS, gcraParams } from '../../src/algorithms'
import { sharedRedis } from '../support/redis'
import { arrival, expectScriptMatchesModel } from '../support/replay'

/**
 * The property behind every algorithm: for random arrival sequences (gaps, concurrent requests,
 * costs, carried consumption), the Lua script on the real Redis and the pure model in
 * src/algorithms — given the times the script read from Redis's clock (TIME) — decide alike, to
 * the µs.
 */
const { redis, namespace, cleanup } = sharedRedis('rl-prop')
afterAll(cleanup)

const setup = fc.record({
  limit: fc.integer({ min: 1, max: 12 }),
  periodMs: fc.integer({ min: 5, max: 60 }),
  burstShare: fc.double({ min: 0, max: 1, noNaN: true }),
})

let run = 0

describe.each(ALGORITHMS)('%s: the Lua script and the reference model', (algorithm) => {
  it('agree over random arrival sequences', async () => {
    await fc.assert(
      fc.asyncProperty(setup, fc.array(arrival(12), { minLength: 1, maxLength: 25 }), async (s, arrivals) => {
        const windowed = algorithm !== 'gcra' && algorithm !== 'token-bucket'
        const burst = windowed ? s.limit : Math.max(1, Math.round(s.burstShare * s.limit * 2))
        const key = `rl:${namespace}:${algorithm}:${run++}`
        await expectScriptMatchesModel(
          redis,
          key,
          algorithm,
          gcraParams(s.limit, s.periodMs, burst),
          arrivals,
        )
      }),
      { numRuns: 40 },
    )
  })
})
