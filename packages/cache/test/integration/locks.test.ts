import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, spawnWorker, uniqueName, waitFor } from '@scalekit/test-utils'
import { sharedRedis } from './support'
import { createCache } from '../../src/index'

const namespace = uniqueName('locks')
const { redis, cleanup } = sharedRedis(namespace)
afterAll(cleanup)

describe('the cross-instance stampede lock', () => {
  it('a holder killed with SIGKILL blocks the others no longer than its lease', async () => {
    const lease = 1_500
    const holder = spawnWorker({
      script: new URL('./fixtures/lock-holder-worker.ts', import.meta.url),
      args: [namespace, 'dead', String(lease)],
      timeoutMs: 30_000,
    })
    await waitFor(async () => (await redis.exists(`sk:{${namespace}:dead}:lock`)) === 1, { timeout: 10_000 })
    holder.kill('SIGKILL')
    await holder.exited
    const killedAt = performance.now()
    const cache = createCache({ namespace, redis: serviceUrls.redis, lockLease: lease })
    const value = await cache.getOrSet('dead', () => 'recovered')
    const waited = performance.now() - killedAt
    expect(value).toBe('recovered')
    // It had to wait for the orphaned lease to run out, and not much longer (generous margin).
    expect(waited).toBeLessThan(lease + 1_500)
    console.log(`orphaned lock (lease ${lease} ms): the next caller answered after ${waited.toFixed(0)} ms`)
    await cache.close()
  })

  it('a waiter is woken when the value lands, not when the lease runs out', async () => {
    const a = createCache({ namespace, redis: serviceUrls.redis, lockLease: 10_000 })
    const b = createCache({ namespace, redis: serviceUrls.redis, lockLease: 10_000 })
    await waitFor(() => a.health().l2?.busConnected === true && b.health().l2?.busConnected === true)
    const first = a.getOrSet('wake', async () => {
      await sleep(200)
      return 'built-by-a'
    })
    await waitFor(async () => (await redis.exists(`sk:{${namespace}:wake}:lock`)) === 1)
    const started = performance.now()
    let bCalls = 0
    const second = await b.getOrSet('wake', () => {
      bCalls++
      return 'built-by-b'
    })
    const waited = performance.now() - started
    expect(second).toBe('built-by-a')
    expect(bCalls).toBe(0)
    expect(await first).toBe('built-by-a')
    // Woken by the bus message: far less than the 10 s lease it would otherwise sleep through.
    expect(waited).toBeLessThan(5_000)
    await Promise.all([a.close(), b.close()])
  })

  it('the lease is renewed while a slow factory runs, so nobody else runs it meanwhile', async () => {
    const a = createCache({ namespace, redis: serviceUrls.redis, lockLease: 300 })
    const b = createCache({ namespace, redis: serviceUrls.redis, lockLease: 300 })
    let calls = 0
    const slow = async (): Promise<number> => {
      calls++
      await sleep(1_000)
      return calls
    }
    const first = a.getOrSet('slow', slow)
    await waitFor(async () => (await redis.exists(`sk:{${namespace}:slow}:lock`)) === 1)
    const second = b.getOrSet('slow', slow)
    expect(await first).toBe(1)
    expect(await second).toBe(1)
    expect(calls).toBe(1)
    await Promise.all([a.close(), b.close()])
  })
})
