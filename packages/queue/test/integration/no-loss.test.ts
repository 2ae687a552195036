import {
  serviceUrls,
  runWorkers,
  sleep,
  uniqueName,
  waitFor,
  startRabbitBroker,
  type RabbitBroker,
} from '@scalekit/test-utils'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createQueue, createRedisDedupStore, defineMessage } from '../../src/index'

interface PublisherResult {
  confirmed: string[]
  failed: { id: string; code: string }[]
  ms: number
}

const Item = defineMessage('load.item', z.object({ id: z.string() }))

describe('no confirmed message is lost across forced closes and a broker restart', () => {
  let broker: RabbitBroker
  let redis: Redis
  const prefix = `${uniqueName('noloss')}:`

  beforeAll(async () => {
    broker = await startRabbitBroker('skqload')
    redis = new Redis(serviceUrls.redis, { maxRetriesPerRequest: 1 })
  }, 90_000)
  afterAll(async () => {
    const keys = await redis.keys(`${prefix}*`)
    for (let i = 0; i < keys.length; i += 1000) await redis.del(...keys.slice(i, i + 1000))
    redis.disconnect()
    await broker.stop()
  }, 60_000)

  it('10 000 messages from 2 processes: each confirmed one handled at least once, and exactly once with dedup', async () => {
    const app = 'noloss'
    const consumer = createQueue({ url: broker.url, app, reconnect: { initial: 50, max: 500 } })
    const plain = new Map<string, number>()
    const deduped = new Map<string, number>()
    const count = (m: Map<string, number>, id: string): void => {
      m.set(id, (m.get(id) ?? 0) + 1)
    }
    await consumer.consume(
      Item,
      (m) => {
        count(plain, m.id)
      },
      { group: 'plain', concurrency: 20, prefetch: 100 },
    ).ready
    await consumer.consume(
      Item,
      async (m) => {
        count(deduped, m.id)
        await sleep(1)
      },
      {
        group: 'dedup',
        concurrency: 20,
        prefetch: 100,
        dedup: createRedisDedupStore({ redis, prefix, ttl: 600_000 }),
      },
    ).ready

    const perWorker = 5_000
    const workers = runWorkers<PublisherResult>({
      script: new URL('./fixtures/load-publisher.ts', import.meta.url),
      count: 2,
      timeoutMs: 150_000,
      startTogether: true,
      env: { QUEUE_URL: broker.url, QUEUE_APP: app, QUEUE_COUNT: String(perWorker) },
    })
    // Faults while the publishers run: a cut, a broker restart, another cut.
    const seen = (): number => plain.size
    await waitFor(() => seen() > 1_000, { timeout: 60_000, message: 'load under way' })
    await broker.closeAllConnections('no-loss test: first cut')
    await waitFor(() => seen() > 3_000, { timeout: 60_000, message: 'load resumed after the first cut' })
    // A real restart: the node's VM exits and starts again from its data directory.
    await broker.restartNode()
    const back = Date.now()
    await waitFor(() => consumer.health().status === 'ok', {
      timeout: 30_000,
      interval: 10,
      message: 'consumers attached again',
    })
    const reattachMs = Date.now() - back
    await waitFor(() => seen() > 6_000, { timeout: 60_000, message: 'load resumed after the restart' })
    await broker.closeAllConnections('no-loss test: second cut')

    const results = await workers
    const confirmed = results.flatMap((r) => r.confirmed)
    const failed = results.flatMap((r) => r.failed)
    await waitFor(() => confirmed.every((id) => plain.has(id) && deduped.has(id)), {
      timeout: 60_000,
      message: 'every confirmed message handled by both groups',
    })
    await sleep(500)
    await consumer.close({ timeout: '5s' })

    const duplicatesPlain = [...plain.values()].filter((n) => n > 1).length
    const duplicatesDedup = [...deduped.values()].filter((n) => n > 1).length
    console.log(
      `no-loss: confirmed ${confirmed.length}, failed ${failed.length}, plain duplicates ${duplicatesPlain}, ` +
        `dedup duplicates ${duplicatesDedup}, consumers attached ${reattachMs} ms after the broker returned, ` +
        `publish durations ${results.map((r) => r.ms).join('/')} ms`,
    )
    expect(failed).toEqual([])
    expect(confirmed.length).toBe(2 * perWorker)
    expect(duplicatesDedup).toBe(0)
    for (const id of confirmed) expect(deduped.get(id)).toBe(1)
  })
})
