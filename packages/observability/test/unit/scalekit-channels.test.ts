import { channel } from 'node:diagnostics_channel'
import { describe, expect, it } from 'vitest'
import { createMetrics, instrumentScalekit } from '../../src/index'
import { sampleValue } from '../http-client'

// The channel contracts of packages this one does not depend on, published as their READMEs and
// channels.ts document them (the cache, db-router and queue run for real in test/integration).
describe('instrumentScalekit: session, rate limit and breaker channels', () => {
  it('counts session verifications, rate limit decisions and breaker states; close() unsubscribes', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    const instrumentation = instrumentScalekit({ metrics })
    channel('scalekit:session:verify').publish({
      kind: 'access',
      outcome: 'refused',
      code: 'ERR_SESSION_INVALID_TOKEN',
      reason: 'expired',
      cached: false,
    })
    channel('scalekit:session:verify').publish({ kind: 'access', outcome: 'valid', cached: true })
    channel('scalekit:session:reuse').publish({ retiredForMs: 10 })
    channel('scalekit:ratelimit:allowed').publish({
      limiter: 'login',
      algorithm: 'gcra',
      source: 'store',
      cost: 1,
    })
    channel('scalekit:ratelimit:limited').publish({
      limiter: 'login',
      algorithm: 'gcra',
      source: 'store',
      cost: 1,
    })
    channel('scalekit:ratelimit:error').publish({
      limiter: 'login',
      code: 'ERR_RATELIMIT_UNAVAILABLE',
      policy: 'local',
      reason: 'timeout',
    })
    channel('scalekit:breaker:state').publish({ package: 'ratelimit', namespace: 'login', state: 'open' })
    channel('scalekit:breaker:state').publish({ package: 'cache', namespace: 'users', state: 'weird' })
    const text = await metrics.metrics()
    expect(
      sampleValue(text, 'scalekit_session_verifications_total', {
        kind: 'access',
        outcome: 'refused',
        reason: 'expired',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'scalekit_session_verifications_total', {
        kind: 'access',
        outcome: 'valid',
        reason: 'none',
      }),
    ).toBe(1)
    expect(sampleValue(text, 'scalekit_session_events_total', { event: 'reuse' })).toBe(1)
    expect(
      sampleValue(text, 'scalekit_ratelimit_decisions_total', {
        limiter: 'login',
        outcome: 'limited',
        source: 'store',
      }),
    ).toBe(1)
    expect(
      sampleValue(text, 'scalekit_ratelimit_errors_total', {
        limiter: 'login',
        reason: 'timeout',
        policy: 'local',
      }),
    ).toBe(1)
    expect(sampleValue(text, 'scalekit_breaker_state', { package: 'ratelimit', namespace: 'login' })).toBe(2)
    expect(text).not.toContain('namespace="users"')
    instrumentation.close()
    channel('scalekit:ratelimit:limited').publish({
      limiter: 'login',
      algorithm: 'gcra',
      source: 'store',
      cost: 1,
    })
    expect(
      sampleValue(await metrics.metrics(), 'scalekit_ratelimit_decisions_total', { outcome: 'limited' }),
    ).toBe(1)
  })

  it('refuses unknown packages and missing metrics with coded errors', () => {
    expect(() => instrumentScalekit({} as never)).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_OPTIONS' }),
    )
    expect(() => instrumentScalekit({ metrics: createMetrics(), packages: ['nope' as never] })).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_OPTIONS' }),
    )
  })
})
