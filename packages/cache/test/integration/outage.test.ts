import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type FaultProxy,
  type RedisServer,
  startFaultProxy,
  startRedisServer,
  uniqueName,
  waitFor,
} from '@scalekit/test-utils'
import { type Cache, createCache } from '../../src/index'

// A private Redis and a proxy in front of it: this file stops and cuts them for real.
let server: RedisServer
let proxy: FaultProxy
beforeAll(async () => {
  server = await startRedisServer()
  proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: server.port } })
})
afterAll(async () => {
  await proxy.close()
  await server.close()
})

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now()
  const value = await fn()
  return { value, ms: performance.now() - started }
}

describe('Redis stopped mid-run', () => {
  let cache: Cache
  afterAll(async () => {
    await cache.close()
  })

  it('keeps answering from L1, grace values and the factory, then uses Redis again when it returns', async () => {
    const timeout = 100
    const namespace = uniqueName('outage')
    const states: string[] = []
    const onState = (event: unknown): void => {
      const e = event as { namespace: string; state: string }
      if (e.namespace === namespace) states.push(e.state)
    }
    subscribe('scalekit:breaker:state', onState)
    const warnings: { obj: object; msg: string | undefined }[] = []
    const infos: object[] = []
    const logger = {
      warn: (obj: object, msg?: string) => warnings.push({ obj, msg }),
      info: (obj: object) => infos.push(obj),
    }
    cache = createCache({ namespace, redis: server.url, timeout, breaker: { resetTimeout: 300 }, logger })
    await waitFor(() => cache.health().l2?.busConnected === true)
    expect(cache.health().status).toBe('ok')
    await cache.getOrSet('warm', () => 'warm-value', { ttl: 60_000 })
    await cache.getOrSet('graced', () => 'graced-value', { ttl: 30, grace: 60_000 })
    await sleep(40)

    await server.stop()

    const slowest = { l1: 0, cold: 0, grace: 0 }
    for (let i = 0; i < 20; i++) {
      const warm = await timed(() => cache.getOrSet('warm', () => 'recomputed'))
      expect(warm.value).toBe('warm-value')
      slowest.l1 = Math.max(slowest.l1, warm.ms)
      const cold = await timed(() =>
        cache.getOrSet(`cold-${i}`, async () => {
          await sleep(10)
          return i
        }),
      )
      expect(cold.value).toBe(i)
      slowest.cold = Math.max(slowest.cold, cold.ms)
      const graced = await timed(() =>
        cache.getOrSet('graced', () => {
          throw new Error('db down too')
        }),
      )
      expect(graced.value).toBe('graced-value')
      slowest.grace = Math.max(slowest.grace, graced.ms)
    }
    // A stopped Redis refuses connections: nobody waits out the timeout, not even before the breaker
    // opens. L1 and grace answers stay in the milliseconds (the margins allow for 2 busy cores).
    expect(slowest.l1).toBeLessThan(50)
    expect(slowest.grace).toBeLessThan(50)
    expect(slowest.cold).toBeLessThan(timeout)
    expect(cache.health().l2?.available).toBe(false)
    expect(cache.health()).toMatchObject({ status: 'degraded', l2: { breaker: 'open' } })
    // One warning for the whole episode, with the code and the namespace, never a key.
    const l2Warnings = warnings.filter((w) => (w.obj as { episode?: string }).episode === 'l2-unavailable')
    expect(l2Warnings).toHaveLength(1)
    expect(l2Warnings[0]?.obj).toMatchObject({
      package: '@scalekit/cache',
      namespace,
      code: 'ERR_CACHE_L2_UNAVAILABLE',
    })
    expect(JSON.stringify(warnings)).not.toMatch(/cold-|warm|graced/)
    const open = await timed(() => cache.getOrSet('warm', () => 'recomputed'))
    console.log(
      `Redis down: slowest L1 ${slowest.l1.toFixed(1)} ms, cold ${slowest.cold.toFixed(1)} ms, grace ${slowest.grace.toFixed(1)} ms; with the breaker open ${open.ms.toFixed(2)} ms`,
    )

    await server.restart()
    await waitFor(
      async () => {
        await cache.getOrSet('probe', () => 1)
        return cache.health().l2?.available === true
      },
      { timeout: 10_000, interval: 50, message: 'breaker closes after Redis returns' },
    )
    expect(states[0]).toBe('open')
    expect(states.at(-1)).toBe('closed')
    expect(cache.health().status).toBe('ok')
    expect(infos).toContainEqual(expect.objectContaining({ episode: 'l2-unavailable' }))
    unsubscribe('scalekit:breaker:state', onState)
    await cache.set('after', 'back')
    const other = createCache({ namespace: cache.namespace, redis: server.url })
    expect(await other.get('after')).toBe('back')
    await other.close()
  })
})

describe('Redis unreachable without refusing (a network partition)', () => {
  it('a cold key answers within the timeout plus the factory time', async () => {
    const timeout = 100
    const cache = createCache({
      namespace: uniqueName('partition'),
      redis: `redis://127.0.0.1:${proxy.port}`,
      timeout,
    })
    await cache.set('k', 1)
    proxy.blackhole()
    try {
      const cold = await timed(() =>
        cache.getOrSet('cold', async () => {
          await sleep(20)
          return 'c'
        }),
      )
      expect(cold.value).toBe('c')
      expect(cold.ms).toBeGreaterThanOrEqual(20)
      expect(cold.ms).toBeLessThan(timeout + 20 + 400)
    } finally {
      await proxy.heal()
      await cache.close()
    }
  })
})

describe('bus disconnect', () => {
  it('an instance whose bus dropped does not serve a value overwritten meanwhile once Redis answers it again', async () => {
    const namespace = uniqueName('busdrop')
    const a = createCache({ namespace, redis: server.url })
    const b = createCache({ namespace, redis: `redis://127.0.0.1:${proxy.port}` })
    try {
      await waitFor(() => a.health().l2?.busConnected === true && b.health().l2?.busConnected === true)
      await a.set('k', 'v1')
      expect(await b.get('k')).toBe('v1')
      await proxy.refuse(true)
      proxy.drop()
      await waitFor(() => b.health().l2?.busConnected === false)
      await a.set('k', 'v2') // b cannot hear this
      await proxy.refuse(false)
      // The first answer after b hears from Redis again is v2: its L1 copy was made in an older bus epoch.
      await waitFor(() => b.health().l2?.busConnected === true && proxy.connections >= 2, { timeout: 10_000 })
      await sleep(100) // the command connection's ready check
      expect(await b.get('k')).toBe('v2')
      expect(await b.getOrSet('k', () => 'recomputed')).toBe('v2')
    } finally {
      await proxy.heal()
      await Promise.all([a.close(), b.close()])
    }
  })
})
