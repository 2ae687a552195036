import { Redis } from 'ioredis'
import type { RedisOptions } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFaultProxy } from '../src/fault-proxy'
import type { FaultProxy } from '../src/fault-proxy'
import { uniqueName } from '../src/names'
import { requireServices, serviceUrls } from '../src/services'
import { waitFor } from '../src/wait-for'

/** One command attempt, no reconnect: each fault shows up as the client's own error. */
const ONE_SHOT: RedisOptions = {
  commandTimeout: 500,
  maxRetriesPerRequest: 0,
  retryStrategy: () => null,
  enableOfflineQueue: false,
  lazyConnect: true,
}

describe('startFaultProxy against the real Redis', () => {
  const key = `${uniqueName('fault_proxy')}:k`
  let proxy: FaultProxy
  let redis: Redis
  /** Per test: a previous test's client still emits 'end' after the next test has begun. */
  let seen: { errors: NodeJS.ErrnoException[]; ended: boolean }

  beforeAll(async () => {
    await requireServices('redis')
  })

  beforeEach(async () => {
    proxy = await startFaultProxy({ target: serviceUrls.redis })
    redis = new Redis(proxy.url(serviceUrls.redis), ONE_SHOT)
    const mine = { errors: [] as NodeJS.ErrnoException[], ended: false }
    seen = mine
    redis.on('error', (error: NodeJS.ErrnoException) => mine.errors.push(error))
    redis.on('end', () => {
      mine.ended = true
    })
    await redis.connect()
    await redis.set(key, 'v')
  })

  afterEach(async () => {
    redis.disconnect()
    await proxy.close()
  })

  afterAll(async () => {
    const direct = new Redis(serviceUrls.redis)
    await direct.del(key)
    direct.disconnect()
  })

  it('latency: a round trip takes at least the latency', async () => {
    proxy.setLatency(200)
    const started = performance.now()
    expect(await redis.get(key)).toBe('v')
    expect(performance.now() - started).toBeGreaterThanOrEqual(390)
  })

  it('pause: no reply while paused, the reply comes after resume', async () => {
    proxy.pause()
    let reply: string | null | undefined
    const pending = redis.get(key).then((value) => (reply = value))
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(reply).toBeUndefined()
    proxy.resume()
    await pending
    expect(reply).toBe('v')
  })

  it('blackhole: the command times out and the connection stays open; heal resets it, new ones work', async () => {
    proxy.blackhole()
    const started = performance.now()
    await expect(redis.get(key)).rejects.toThrow(/timed out/i)
    expect(performance.now() - started).toBeGreaterThanOrEqual(450)
    expect(redis.status).toBe('ready')
    expect(proxy.connections).toBe(1)
    expect(seen.ended).toBe(false)

    await proxy.heal()
    // The GET was lost mid-stream, so the connection cannot go on: it is reset, as TCP would.
    await waitFor(() => seen.ended, { message: 'the damaged connection is reset on heal' })
    expect(seen.errors.map((e) => e.code)).toContain('ECONNRESET')
    const fresh = new Redis(proxy.url(serviceUrls.redis), ONE_SHOT)
    await fresh.connect()
    expect(await fresh.get(key)).toBe('v')
    fresh.disconnect()
  })

  it('blackhole: an idle connection survives heal', async () => {
    proxy.blackhole()
    await proxy.heal()
    expect(await redis.get(key)).toBe('v')
  })

  it('drop: the client sees the connection end', async () => {
    proxy.drop()
    await waitFor(() => seen.ended, { message: "ioredis emits 'end'" })
    expect(seen.errors).toEqual([])
  })

  it('reset: the client sees ECONNRESET', async () => {
    proxy.reset()
    await waitFor(() => seen.ended, { message: "ioredis emits 'end'" })
    expect(seen.errors.map((e) => e.code)).toContain('ECONNRESET')
  })

  it('refuse: a new connection fails; heal lets it in', async () => {
    await proxy.refuse()
    const late = new Redis(proxy.url(serviceUrls.redis), ONE_SHOT)
    const lateErrors: NodeJS.ErrnoException[] = []
    late.on('error', (error: NodeJS.ErrnoException) => lateErrors.push(error))
    await expect(late.connect()).rejects.toThrow()
    expect(lateErrors.map((e) => e.code)).toContain('ECONNREFUSED')
    expect(await redis.get(key)).toBe('v')
    await proxy.heal()
    const healed = new Redis(proxy.url(serviceUrls.redis), ONE_SHOT)
    await healed.connect()
    expect(await healed.get(key)).toBe('v')
    healed.disconnect()
  })
})
