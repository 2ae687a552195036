import { setTimeout as sleep } from 'node:timers/promises'
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, spawnWorker, uniqueName, waitFor } from '@scalekit/test-utils'
import { createCache } from '../../src/index'

const namespace = uniqueName('coherent')
const cache = createCache({ namespace, redis: serviceUrls.redis })
afterAll(async () => {
  await cache.clear()
  await cache.close()
})

describe('L1 coherence between two processes', () => {
  it('set, delete and invalidateTags on one process are seen by the other process L1 within the bound', async () => {
    await cache.set('k', 'v0', { tags: ['t:k'] })
    const worker = spawnWorker<{ delays: number[] }>({
      script: new URL('./fixtures/coherence-worker.ts', import.meta.url),
      args: [namespace],
      startTogether: true,
      timeoutMs: 60_000,
    })
    await worker.ready
    worker.go()
    let seen = 0
    const off = worker.onMessage(() => {
      seen++
    })
    const change = async (expect: string | null, make: () => Promise<void>): Promise<void> => {
      const before = seen
      const madeAt = Date.now()
      await make()
      await worker.send({ key: 'k', expect, madeAt })
      // The worker answers once its get() returns the new value; its L1 held the old one until the bus told it.
      await waitFor(() => seen > before, { timeout: 5_000, interval: 1 })
    }
    for (let i = 1; i <= 10; i++) {
      await change(`v${i}`, () => cache.set('k', `v${i}`, { tags: ['t:k'] }))
    }
    await change(null, () => cache.delete('k'))
    await cache.set('k', 'tagged', { tags: ['t:k'] })
    await change('tagged', async () => {
      await sleep(1)
    })
    await change(null, () => cache.invalidateTags(['t:k']))
    await worker.send({ key: 'stop', expect: null, madeAt: Date.now() })
    const { delays } = await worker.result
    off()
    const sorted = [...delays].sort((x, y) => x - y)
    const median = sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
    console.log(
      `cross-process L1 coherence: median ${median} ms, max ${sorted.at(-1)} ms over ${delays.length} changes (incl. IPC)`,
    )
    expect(delays).toHaveLength(13)
    // The worker saw every change; a stuck L1 would have hung the waitFor above instead.
    expect(sorted.at(-1)).toBeLessThan(2_000)
  })
})
