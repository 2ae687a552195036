// Issue 13, item 6: Redis going away, the breaker opening and the bus disconnecting are told through
// the `logger` seam — once per episode, as soon as they happen (not only once the breaker opened,
// which needs calls), with codes and the namespace, never keys or values — and their end at info.
import { afterAll, describe, expect, it } from 'vitest'
import { type RedisServer, startRedisServer, uniqueName, waitFor } from '@scalekit/test-utils'
import { type Cache, createCache } from '../../src/index'

let server: RedisServer | undefined
let cache: Cache | undefined
afterAll(async () => {
  await cache?.close({ timeout: 100 })
  await server?.close()
})

interface Logged {
  readonly level: 'warn' | 'info'
  readonly obj: Record<string, unknown>
  readonly msg: string | undefined
}

describe('warnings through the logger seam', () => {
  it('Redis stopped: one l2-unavailable and one bus-disconnected warning per episode, ended at info when it is back', async () => {
    server = await startRedisServer()
    const logged: Logged[] = []
    const record =
      (level: Logged['level']) =>
      (obj: object, msg?: string): void => {
        logged.push({ level, obj: obj as Record<string, unknown>, msg })
      }
    const namespace = uniqueName('warnings')
    const c = createCache({
      namespace,
      redis: server.url,
      timeout: 200,
      breaker: { resetTimeout: 300 },
      logger: { warn: record('warn'), info: record('info') },
    })
    cache = c
    await waitFor(() => c.health().l2?.busConnected === true)
    await c.set('secret-key', 'secret-value')
    const episodes = (level: Logged['level'], episode: string): Logged[] =>
      logged.filter((l) => l.level === level && l.obj.episode === episode)

    await server.stop()
    // No call is made: the connection and the bus going away are enough to be told.
    await waitFor(() => episodes('warn', 'l2-unavailable').length === 1, { message: 'Redis lost is logged' })
    await waitFor(() => episodes('warn', 'bus-disconnected').length === 1, { message: 'bus lost is logged' })
    expect(c.health()).toMatchObject({ status: 'degraded', l2: { available: false, busConnected: false } })

    // Calls during the outage open the breaker: still the same episode, no second warning.
    for (let i = 0; i < 20; i++) await c.getOrSet(`k${i}`, () => i)
    expect(c.health().l2?.breaker).toBe('open')
    expect(episodes('warn', 'l2-unavailable')).toHaveLength(1)
    expect(episodes('warn', 'bus-disconnected')).toHaveLength(1)
    expect(episodes('warn', 'l2-unavailable')[0]?.obj).toMatchObject({
      package: '@scalekit/cache',
      namespace,
      code: 'ERR_CACHE_L2_UNAVAILABLE',
    })

    await server.restart()
    await waitFor(
      async () => {
        await c.getOrSet('probe', () => 1)
        return c.health().status === 'ok' && c.health().l2?.busConnected === true
      },
      { timeout: 15_000, interval: 50, message: 'the cache is healthy again' },
    )
    expect(episodes('info', 'l2-unavailable').length).toBeGreaterThanOrEqual(1)
    expect(episodes('info', 'bus-disconnected')).toHaveLength(1)
    expect(JSON.stringify(logged)).not.toMatch(/secret-|"k\d+"/)
  }, 40_000)
})
