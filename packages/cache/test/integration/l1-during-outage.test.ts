// Issue 12, defect 7: an L1 hit stays an L1 hit whatever Redis does. With Redis unreachable from the
// start, a key just loaded by the factory was served from L1 only after the L2 timeout, on every
// call until the breaker opened. Each test uses a Redis that accepts connections and never answers
// and shows the L1 hit resolving while a call to Redis is still pending (no wall time asserted).
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import {
  type FaultProxy,
  type RedisServer,
  startFaultProxy,
  startRedisServer,
  uniqueName,
  waitFor,
} from '@scalekit/test-utils'
import { type Cache, createCache } from '../../src/index'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function server(): Promise<RedisServer> {
  const s = await startRedisServer()
  cleanups.push(() => s.close())
  return s
}

async function proxyTo(s: RedisServer): Promise<FaultProxy> {
  const p = await startFaultProxy({ target: { host: '127.0.0.1', port: s.port } })
  cleanups.push(() => p.close())
  return p
}

function cacheOn(url: string, options: { timeout: number | `${number}h` }): Cache {
  const cache = createCache({
    namespace: uniqueName('l1-outage'),
    redis: url,
    timeout: options.timeout,
    // The breaker is kept out of the way: the L1 hit must not depend on it having opened.
    breaker: { volumeThreshold: 1_000 },
    logger: { warn: () => undefined },
  })
  cleanups.push(() => cache.close({ timeout: 100 }))
  return cache
}

describe('L1 hits while Redis accepts connections but never answers', () => {
  it('unreachable from the start, then a black hole: the loaded key is served while Redis is still being waited for', async () => {
    const s = await server()
    const proxy = await proxyTo(s)
    await proxy.refuse() // nothing listens: the first connect fails with ECONNREFUSED
    // An L2 timeout of an hour: an L1 hit that waited on Redis would never resolve within the test.
    const cache = cacheOn(`redis://127.0.0.1:${proxy.port}`, { timeout: '1h' })
    expect(await cache.getOrSet('k', () => 'from-factory', { ttl: 60_000 })).toBe('from-factory')
    // Now something listens, but never answers: the client reconnects and its ready check hangs.
    proxy.blackhole()
    await proxy.refuse(false)
    await waitFor(() => proxy.connections > 0, { message: 'the client reconnects into the black hole' })
    const answered = proxy.stats.bytesToClient
    for (let i = 0; i < 5; i++) {
      expect(await cache.getOrSet('k', () => 'recomputed')).toBe('from-factory')
      expect(await cache.get('k')).toBe('from-factory')
    }
    // Redis never answered a byte meanwhile: every hit came from L1 without waiting for it.
    expect(proxy.stats.bytesToClient).toBe(answered)
    expect(cache.health()).toMatchObject({ status: 'degraded', l2: { available: false, breaker: 'closed' } })
  }, 30_000)

  it('paused mid-run (SIGSTOP): once a call timed out, an unverifiable L1 entry is served while a write is still pending', async () => {
    const s = await server()
    const admin = new Redis(s.url)
    cleanups.push(() => {
      admin.disconnect()
      return Promise.resolve()
    })
    const pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1])
    const cache = cacheOn(s.url, { timeout: 300 })
    await waitFor(() => cache.health().l2?.busConnected === true)
    expect(await cache.getOrSet('k', () => 'v', { ttl: 60_000 })).toBe('v')
    // The bus drops and comes back: 'k' may have missed an invalidation, so it is checked against
    // Redis before it is served — while Redis answers.
    const busEvents: string[] = []
    const onBus = (event: unknown): void => {
      const e = event as { namespace: string; event: string }
      if (e.namespace === cache.namespace && e.event.endsWith('connected')) busEvents.push(e.event)
    }
    subscribe('scalekit:cache:bus', onBus)
    cleanups.push(() => {
      unsubscribe('scalekit:cache:bus', onBus)
      return Promise.resolve()
    })
    await admin.client('KILL', 'TYPE', 'pubsub')
    await waitFor(() => busEvents.join() === 'disconnected,connected', { message: 'the bus resubscribes' })
    process.kill(pid, 'SIGSTOP')
    cleanups.push(() => {
      process.kill(pid, 'SIGCONT')
      return Promise.resolve()
    })
    // One call learns that Redis does not answer (it waits out the 300 ms timeout: nobody knew yet).
    expect(await cache.get('cold')).toBeUndefined()
    let writeSettled = false
    const write = cache.set('x', 1).then(
      () => undefined,
      () => undefined,
    )
    void write.finally(() => {
      writeSettled = true
    })
    // Before: this hit sent its own read and waited out the timeout too (the write, sent first, settled first).
    expect(await cache.getOrSet('k', () => 'recomputed')).toBe('v')
    expect(await cache.get('k')).toBe('v')
    expect(writeSettled).toBe(false)
    await write
    process.kill(pid, 'SIGCONT')
    // Redis is back: the next read verifies against it again and the cache is healthy.
    await waitFor(
      async () => {
        await cache.get('cold')
        return cache.health().l2?.available === true
      },
      { message: 'Redis is available again after SIGCONT' },
    )
    expect(await cache.get('k')).toBe('v')
  }, 30_000)
})
