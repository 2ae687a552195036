// Issue 12, defect 5 as a class: a caller's input never trips the breaker. Bad arguments are refused
// with ERR_CACHE_INVALID_ARGUMENT before any Redis call, and a command Redis refuses (it answered:
// not an outage) is not counted either — only Redis's own failures are.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import {
  type Cache,
  CacheArgumentError,
  CacheUnavailableError,
  createCache,
  type GetOrSetOptions,
} from '../../src/index'
import { sharedRedis } from './support'

const namespace = uniqueName('caller-input')
const { redis, cleanup } = sharedRedis(namespace)
const caches: Cache[] = []
afterAll(async () => {
  await Promise.all(caches.map((c) => c.close()))
  await cleanup()
})

function cache(): Cache {
  const c = createCache({ namespace, redis: serviceUrls.redis })
  caches.push(c)
  return c
}

/** Records the breaker's state changes of this file's namespace. */
function breakerStates(): { states: string[]; stop: () => void } {
  const states: string[] = []
  const listener = (event: unknown): void => {
    const e = event as { namespace: string; state: string }
    if (e.namespace === namespace) states.push(e.state)
  }
  subscribe('scalekit:breaker:state', listener)
  return { states, stop: () => unsubscribe('scalekit:breaker:state', listener) }
}

describe('caller input and the breaker', () => {
  it('set(k, v, { ttl: 1e20 }) 20 times: coded argument errors, the breaker stays closed', async () => {
    const c = cache()
    for (let i = 0; i < 20; i++) {
      await expect(c.set('k', 'v', { ttl: 1e20 })).rejects.toBeInstanceOf(CacheArgumentError)
    }
    await c.set('k', 'v')
    expect(await c.get('k')).toBe('v')
    expect(c.health().l2).toMatchObject({ available: true, breaker: 'closed' })
  })

  it('a command Redis refuses (WRONGTYPE) 20 times never opens the breaker for the other keys', async () => {
    const c = cache()
    const watch = breakerStates()
    // Another client (or a bug) left a hash where the entry of 'broken' lives.
    await redis.hset(`sk:{${namespace}:broken}`, 'field', 'value')
    for (let i = 0; i < 20; i++) {
      const error = await c.set('broken', i).then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(CacheUnavailableError)
      expect((error as Error).message).toMatch(/refused the command: WRONGTYPE/)
    }
    expect(await c.get('broken')).toBeUndefined()
    // Before: after 6 such calls the breaker opened, and every valid call failed with "Breaker is open".
    await c.set('fine', 1)
    expect(await c.get('fine')).toBe(1)
    expect(watch.states).not.toContain('open')
    expect(c.health().l2?.breaker).toBe('closed')
    watch.stop()
  })

  it('property: any per-call options on every method work or are refused with CacheArgumentError, and never trip the breaker', async () => {
    const c = cache()
    const watch = breakerStates()
    const value = fc.oneof(
      fc.constantFrom(
        undefined,
        null,
        true,
        0,
        -1,
        1,
        0.5,
        Number.NaN,
        Infinity,
        1e20,
        2 ** 31 - 1,
        2 ** 31,
        3e9,
      ),
      fc.constantFrom('1s', '24d', '25d', '720h', 'no', '', '1.5m'),
      fc.integer({ min: -10, max: 2 ** 32 }),
      fc.string({ maxLength: 8 }),
      fc.constantFrom({}, [], ['a'], [''], ['\ud800'], () => 1),
    )
    const tags = fc.oneof(
      value,
      fc.array(fc.oneof(fc.string({ unit: 'binary', maxLength: 6 }), value), { maxLength: 4 }),
    )
    const options = fc.oneof(
      value,
      fc.record(
        {
          ttl: value,
          grace: value,
          tags,
          softTimeout: value,
          hardTimeout: value,
          negativeTtl: value,
          ttL: value,
        },
        { requiredKeys: [] },
      ),
    )
    const methods = ['set', 'getOrSet', 'writeThrough', 'invalidateTags'] as const
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), options, tags, async (method, o, t) => {
        const opts = o as GetOrSetOptions
        const call =
          method === 'set'
            ? c.set('p', 1, opts)
            : method === 'getOrSet'
              ? c.getOrSet('p', () => 1, opts)
              : method === 'writeThrough'
                ? c.writeThrough('p', 1, () => undefined, opts)
                : c.invalidateTags(t as string[])
        const error = await call.then(
          () => undefined,
          (e: unknown) => e,
        )
        if (error !== undefined)
          expect(error, `${method}: ${error instanceof Error ? error.message : typeof error}`).toBeInstanceOf(
            CacheArgumentError,
          )
      }),
      { numRuns: 400 },
    )
    expect(watch.states).not.toContain('open')
    expect(c.health()).toMatchObject({ status: 'ok', l2: { available: true, breaker: 'closed' } })
    watch.stop()
  })
})
