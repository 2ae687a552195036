import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { serviceUrls, spawnWorker, uniqueName, waitFor } from '@scalekit/test-utils'
import { createCache } from '../../src/index'
import { createWriteBehind } from '../../src/write-behind/index'

// The store of record is a Redis hash on the same server (no extra client in this package).
const filePrefix = uniqueName('wb_crash')
// The queue 'crash' of a cache whose namespace is filePrefix keeps its keys under this prefix.
const keyPrefix = `sk:{${filePrefix}:wb:crash}`
const storeKey = `${filePrefix}:store`
const SETS = 10_000
const KEYS = 2_000
const redis = new Redis(serviceUrls.redis, { lazyConnect: true })

beforeAll(async () => {
  await redis.connect()
})

afterAll(async () => {
  const keys = [...(await redis.keys(`${filePrefix}:*`)), ...(await redis.keys(`sk:{${filePrefix}*`))]
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
})

it('loses no acknowledged write when the leader is SIGKILLed mid-flush: the next leader claims and writes its pending entries', async () => {
  const worker = spawnWorker({
    script: fileURLToPath(new URL('fixtures/write-behind-worker.ts', import.meta.url)),
    env: {
      WB_REDIS_URL: serviceUrls.redis,
      WB_NAMESPACE: filePrefix,
      WB_STORE: storeKey,
      WB_SETS: String(SETS),
      WB_KEYS: String(KEYS),
      WB_WRITE_DELAY_MS: '25',
    },
    timeoutMs: 120_000,
  })
  const lastAcked = new Map<string, number>()
  let ackedCount = 0
  let leading = false
  let done = false
  worker.onMessage((message) => {
    const m = message as { type: string; seqs?: number[] }
    if (m.type === 'leader') leading = true
    if (m.type === 'done') done = true
    for (const seq of m.seqs ?? []) {
      ackedCount += 1
      const key = `k${seq % KEYS}`
      lastAcked.set(key, Math.max(lastAcked.get(key) ?? -1, seq))
    }
  })

  // Kill it while it leads and the store lags behind: every set acknowledged, the tail of the stream
  // (the last value of many keys) still queued, and a batch of it being written.
  await waitFor(() => leading && done, { timeout: 60_000, message: `all sets acknowledged (${ackedCount})` })
  await waitFor(
    async () => {
      // Past this point everything left in the stream is the last value of its key (seq >= SETS - KEYS).
      const left = await redis.xlen(`${keyPrefix}:stream`)
      return left > 0 && left <= KEYS - 500
    },
    { timeout: 60_000, interval: 1, message: 'the flush reaching the tail of the stream' },
  )
  await waitFor(async () => (await pendingCount()) > 0, {
    timeout: 10_000,
    interval: 1,
    message: 'a batch in flight',
  })
  worker.kill('SIGKILL')
  expect((await worker.exited).signal).toBe('SIGKILL')
  const pendingAtKill = await pendingCount()
  expect(pendingAtKill).toBeGreaterThan(0)
  expect(await redis.xlen(`${keyPrefix}:stream`)).toBeGreaterThan(0)

  // The successor, in this process: it waits out the dead leader's lease, then takes over.
  const cache = createCache({ namespace: filePrefix, redis, l1: false, bus: false, timeout: 2_000 })
  const successor = createWriteBehind<number>(cache, {
    name: 'crash',
    lease: 1_000,
    write: async (batch) => {
      await redis.hset(storeKey, ...batch.flatMap((e) => [e.key, String(e.value)]))
    },
  })
  try {
    await waitFor(() => successor.isLeader(), { timeout: 15_000, message: 'the successor leads' })
    // Left in the dead leader's pending list, they would never be delivered again and flush() would hang.
    await waitFor(() => successor.flush().then(() => true), {
      timeout: 30_000,
      message: "the successor flushing the dead leader's entries",
    })
  } finally {
    await successor.close()
    await cache.close()
  }

  const stored = await redis.hgetall(storeKey)
  const lost: string[] = []
  for (const [key, seq] of lastAcked) {
    const value = Number(stored[key])
    // Every key holds its last acknowledged value, or a later one that was queued after it.
    if (!(value >= seq) || value % KEYS !== Number(key.slice(1)))
      lost.push(`${key}: acked ${seq}, stored ${stored[key] ?? 'nothing'}`)
  }
  expect(lost).toEqual([])
  expect(ackedCount).toBe(SETS)
  expect(await redis.xlen(`${keyPrefix}:stream`)).toBe(0)
  expect(await pendingCount()).toBe(0)
})

async function pendingCount(): Promise<number> {
  const summary = (await redis.xpending(`${keyPrefix}:stream`, 'write-behind')) as [number, ...unknown[]]
  return summary[0]
}
