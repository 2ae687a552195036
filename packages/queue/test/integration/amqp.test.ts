import { execFile } from 'node:child_process'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { promisify } from 'node:util'
import { serviceUrls, sleep, spawnWorker, uniqueName, waitFor } from '@scalekit/test-utils'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createQueue, createRedisDedupStore, defineMessage } from '../../src/index'
import type {
  Queue,
  QueueConnectionEvent,
  QueueOptions,
  QueueConsumeContext,
  QueuePublishContext,
} from '../../src/index'
import { batchWrites, openConnection } from '../../src/drivers/amqp/connection'
import { deleteTopology, withChannel } from './support/amqp-admin'

const run = promisify(execFile)

const order = z.object({ orderId: z.number() })

describe('RabbitMQ specifics', () => {
  const app = uniqueName('queue_amqp')
  const queues: Queue[] = []
  const types: string[] = []
  const groups = ['g', 'billing', 'limit', 'crash']
  let redis: Redis

  const queue = (options: Partial<QueueOptions> = {}): Queue => {
    const q = createQueue({ url: serviceUrls.amqp, app, ...options })
    queues.push(q)
    return q
  }
  const type = (label: string) => {
    const t = defineMessage(`${label}.${Math.random().toString(36).slice(2, 8)}`, order)
    types.push(t.name)
    return t
  }

  beforeAll(() => {
    redis = new Redis(serviceUrls.redis, { lazyConnect: true, maxRetriesPerRequest: 1 })
  })
  afterEach(async () => {
    await Promise.all(queues.splice(0).map(async (q) => q.close({ timeout: 5_000 })))
  })
  afterAll(async () => {
    await deleteTopology(app, types, groups)
    redis.disconnect()
  })

  it('puts dead letters in the group dead-letter queue with reason, attempts and error headers', async () => {
    const T = type('dead')
    const q = queue()
    const c = q.consume(T, () => Promise.reject(new Error('nope')), {
      group: 'g',
      attempts: 2,
      backoff: { initial: 50, max: 50, jitter: 0 },
    })
    await c.ready
    const { messageId } = await q.publish(T, { orderId: 9 })
    const dead = await waitFor(
      async () => withChannel(async (ch) => ch.get(`${app}.g:dead-letter`, { noAck: true })),
      { timeout: 15_000, message: 'a dead letter' },
    )
    expect(dead.properties.messageId).toBe(messageId)
    expect(dead.properties.type).toBe(T.name)
    expect(dead.properties.headers).toMatchObject({
      'x-sk-reason': 'failed',
      'x-sk-attempts': 2,
      'x-sk-error': 'nope',
      'x-sk-group': 'g',
    })
    expect(JSON.parse(dead.content.toString())).toEqual({ orderId: 9 })
  })

  it('publishes over several connections (publishConnections: 3, publishChannels: 2) besides the one that consumes', async () => {
    const T = type('lanes')
    const connected: string[] = []
    const onEvent = (e: unknown): void => {
      const event = e as QueueConnectionEvent
      if (event.event === 'connected' && event.role !== undefined) connected.push(event.role)
    }
    subscribe('scalekit:queue:connection', onEvent)
    try {
      const q = queue({ publishConnections: 3, publishChannels: 2 })
      const seen = new Set<number>()
      const c = q.consume(
        T,
        (msg) => {
          seen.add(msg.orderId)
        },
        { group: 'g', concurrency: 50, prefetch: 50 },
      )
      await c.ready
      await Promise.all(Array.from({ length: 600 }, async (_, i) => q.publish(T, { orderId: i })))
      await waitFor(() => seen.size === 600, { timeout: 15_000, message: `all 600 handled (${seen.size})` })
      expect(connected.filter((r) => r === 'consume')).toHaveLength(1)
      expect(connected.filter((r) => r === 'publish')).toHaveLength(3)
      expect(q.health().connection).toBe('connected')
      // As the broker sees them: 3 publishing connections of 2 channels each.
      const listed = await run('rabbitmqctl', ['-q', 'list_connections', 'client_properties', 'channels'], {
        timeout: 30_000,
      })
      const ours = listed.stdout
        .split('\n')
        .filter((line) => line.includes(`"${app} publish pid ${process.pid}"`))
      expect(ours.map((line) => line.trim().split(/\s+/).at(-1))).toEqual(['2', '2', '2'])
    } finally {
      unsubscribe('scalekit:queue:connection', onEvent)
    }
  })

  it('declares quorum queues with a delivery limit that dead-letters a message redelivered too often', async () => {
    const T = type('crashy')
    const q = queue({ deliveryLimit: 2 })
    // Declares the topology; then a raw consumer plays a process that crashes on every delivery.
    const c = q.consume(T, () => undefined, { group: 'limit' })
    await c.ready
    await c.close()
    await q.publish(T, { orderId: 1 }).catch(() => undefined)
    await withChannel(async (ch) => {
      const seen: number[] = []
      await ch.consume(`${app}.limit.${T.name}`, (msg) => {
        if (msg === null) return
        seen.push(Number(msg.properties.headers?.['x-delivery-count'] ?? 0))
        ch.nack(msg, false, true)
      })
      const dead = await waitFor(async () => ch.get(`${app}.limit:dead-letter`, { noAck: true }), {
        timeout: 10_000,
        message: 'dead-lettered by the broker',
      })
      const deaths = dead.properties.headers?.['x-death'] as { reason: string }[] | undefined
      expect(deaths?.[0]?.reason).toBe('delivery_limit')
      expect(seen.length).toBe(3)
    })
  })

  it('a poison message that crashes its consumer process is dead-lettered by the broker after the delivery limit', async () => {
    const T = type('poison')
    const q = queue({ deliveryLimit: 2 })
    // Declare the group's queue, then publish the poison message.
    const c = q.consume(T, () => undefined, { group: 'crash' })
    await c.ready
    await c.close()
    await q.publish(T, { orderId: 1 })
    let crashes = 0
    for (let run = 0; run < 6; run++) {
      const dead = await withChannel(async (ch) => ch.get(`${app}.crash:dead-letter`, { noAck: true }))
      if (dead !== false) {
        const deaths = dead.properties.headers?.['x-death'] as { reason: string }[] | undefined
        expect(deaths?.[0]?.reason).toBe('delivery_limit')
        break
      }
      const worker = spawnWorker({
        script: new URL('./fixtures/crash-consumer.ts', import.meta.url),
        env: { QUEUE_URL: serviceUrls.amqp, QUEUE_APP: app, QUEUE_TYPE: T.name },
        timeoutMs: 20_000,
      })
      const exit = await worker.exited
      expect(exit.code, `run ${run}: ${worker.stderr}`).toBe(3)
      crashes += 1
      // The broker returns the message to the queue, or (past the limit) moves it to the dead-letter queue.
      await waitFor(
        async () =>
          withChannel(async (ch) => {
            const ready = await ch.checkQueue(`${app}.crash.${T.name}`)
            const dead = await ch.checkQueue(`${app}.crash:dead-letter`)
            return ready.messageCount + dead.messageCount > 0
          }),
        { timeout: 10_000, message: 'message back in a queue' },
      )
    }
    // Delivered deliveryLimit + 1 times, then the broker stopped redelivering it.
    expect(crashes).toBe(3)
  })

  it('a consumer whose queue is deleted under it declares the queue again and keeps consuming', async () => {
    const T = type('deleted')
    const q = queue({ reconnect: { initial: 50, max: 200 } })
    const got: number[] = []
    const c = q.consume(T, (m) => void got.push(m.orderId), { group: 'g' })
    await c.ready
    await withChannel(async (ch) => {
      await ch.deleteQueue(`${app}.g.${T.name}`)
    })
    // Cancelled by the broker: not "connected but not consuming" for long.
    await waitFor(
      async () => {
        const check = await withChannel(async (ch) => ch.checkQueue(`${app}.g.${T.name}`)).catch(
          () => undefined,
        )
        return check !== undefined && check.consumerCount === 1 && q.health().status === 'ok'
      },
      { timeout: 10_000, message: 'queue declared again with its consumer' },
    )
    await q.publish(T, { orderId: 5 })
    await waitFor(() => got.includes(5), { timeout: 10_000, message: 'consumed after re-declaring' })
  })

  it('reports a queue declared with other arguments as ERR_QUEUE_TOPOLOGY_MISMATCH naming the argument', async () => {
    const T = type('mismatch')
    await withChannel(async (ch) => {
      await ch.assertQueue(`${app}.billing.${T.name}`, { durable: true })
    })
    const q = queue()
    const c = q.consume(T, () => undefined, { group: 'billing' })
    const error = await c.ready.then(
      () => undefined,
      (e: unknown) => e,
    )
    // The broker names the first argument it finds different.
    expect(error).toMatchObject({
      code: 'ERR_QUEUE_TOPOLOGY_MISMATCH',
      argument: expect.stringMatching(/^x-/) as string,
      resource: `${app}.billing.${T.name}`,
    })
    expect((error as Error).message).toContain('inequivalent arg')
    expect(q.health().status).toBe('degraded')
    expect(q.health().consumers).toEqual([{ type: T.name, group: 'billing', attached: false, active: 0 }])
  })

  it('deduplicates across two instances with the Redis store', async () => {
    const T = type('dedup')
    const prefix = `${uniqueName('dedup')}:`
    const store = createRedisDedupStore({ redis, prefix, ttl: 60_000 })
    const a = queue()
    const b = queue()
    const handled: string[] = []
    await Promise.all(
      [a, b].map(
        async (q) =>
          q.consume(T, (_m, ctx) => void handled.push(ctx.messageId), {
            group: 'g',
            dedup: store,
            concurrency: 4,
          }).ready,
      ),
    )
    for (let i = 0; i < 20; i++) {
      await a.publish(T, { orderId: i }, { messageId: `id-${i}` })
      await b.publish(T, { orderId: i }, { messageId: `id-${i}` })
    }
    await waitFor(() => handled.length >= 20, { timeout: 10_000, message: 'handled' })
    await sleep(500)
    expect(handled.sort()).toEqual([...Array(20).keys()].map((i) => `id-${i}`).sort())
    const keys = await redis.keys(`${prefix}*`)
    expect(keys.length).toBe(20)
    await redis.del(...keys)
  })

  it('publishes on the publish and consume tracing channels, and reports depth', async () => {
    const T = type('traced')
    const q = queue()
    const published: QueuePublishContext[] = []
    const consumed: QueueConsumeContext[] = []
    const onPublish = (m: unknown): void => void published.push(m as QueuePublishContext)
    const onConsume = (m: unknown): void => void consumed.push(m as QueueConsumeContext)
    subscribe('tracing:scalekit:queue:publish:asyncEnd', onPublish)
    subscribe('tracing:scalekit:queue:consume:asyncEnd', onConsume)
    try {
      let release = (): void => undefined
      const gate = new Promise<void>((resolve) => (release = resolve))
      const c = q.consume(T, async () => gate, { group: 'g' })
      await c.ready
      const { messageId } = await q.publish(T, { orderId: 1 })
      await q.publish(T, { orderId: 2 })
      await q.publish(T, { orderId: 3 })
      const stats = await waitFor(async () => (await q.groupStats()).find((s) => s.messages >= 2), {
        timeout: 5_000,
        message: 'depth 2',
      })
      expect(stats).toMatchObject({ type: T.name, group: 'g', consumers: 1 })
      release()
      await waitFor(() => consumed.length === 3, { timeout: 5_000, message: 'consumed' })
      expect(published[0]).toMatchObject({ type: T.name, messageId, delayMs: 0 })
      expect(consumed[0]).toMatchObject({ type: T.name, group: 'g', messageId, attempt: 1, outcome: 'ack' })
      expect(consumed[0]?.latencyMs).toBeGreaterThanOrEqual(0)
    } finally {
      unsubscribe('tracing:scalekit:queue:publish:asyncEnd', onPublish)
      unsubscribe('tracing:scalekit:queue:consume:asyncEnd', onConsume)
    }
  })
})

describe('socket writes', () => {
  it("one turn of the event loop goes out in one write: amqplib's socket is found and corked", async () => {
    const connection = await openConnection({
      url: serviceUrls.amqp,
      heartbeat: 10,
      connectTimeout: 5_000,
      app: 'batch-writes-test',
    })
    try {
      const socket = (
        connection as unknown as {
          connection: {
            stream: { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void }
          }
        }
      ).connection.stream
      let writes = 0
      let frames = 0
      const write = socket._write.bind(socket)
      const writev = socket._writev.bind(socket)
      socket._write = (...args: unknown[]) => {
        writes++
        frames++
        write(...args)
      }
      socket._writev = (...args: unknown[]) => {
        writes++
        frames += (args[0] as unknown[]).length
        writev(...args)
      }
      const ch = await connection.createConfirmChannel()
      const queue = uniqueName('batch_writes')
      await ch.assertQueue(queue, { exclusive: true })
      writes = 0
      frames = 0
      for (let i = 0; i < 200; i++) ch.publish('', queue, Buffer.from(String(i)))
      await ch.waitForConfirms()
      expect(frames).toBeGreaterThanOrEqual(200)
      // Without corking every frame is a write of its own (200 or more).
      expect(writes).toBeLessThan(20)
    } finally {
      await connection.close()
    }
  })

  it('leaves a connection without a corkable socket alone', () => {
    expect(batchWrites({} as unknown as Parameters<typeof batchWrites>[0])).toBe(false)
    const stream = { write: () => true }
    expect(batchWrites({ connection: { stream } } as unknown as Parameters<typeof batchWrites>[0])).toBe(
      false,
    )
  })
})
