import { sleep, waitFor, startRabbitBroker, type RabbitBroker } from '@scalekit/test-utils'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'
import type { Queue, QueueOptions } from '../../src/index'

const Item = defineMessage('fault.item', z.object({ n: z.number(), pad: z.string().optional() }))

describe('faults on a private broker', () => {
  let broker: RabbitBroker
  const queues: Queue[] = []
  const queue = (options: Partial<QueueOptions> = {}): Queue => {
    const q = createQueue({
      url: broker.url,
      app: 'faults',
      reconnect: { initial: 50, max: 500 },
      ...options,
    })
    queues.push(q)
    return q
  }

  beforeAll(async () => {
    broker = await startRabbitBroker('skqfault')
  }, 90_000)
  afterEach(async () => {
    await Promise.all(queues.splice(0).map(async (q) => q.close({ timeout: 3_000 })))
  })
  afterAll(async () => {
    await broker.stop()
  }, 60_000)

  it('reconnects after connections are force-closed: consumers attach again, buffered publishes go through', async () => {
    const warnings: { obj: Record<string, unknown>; msg: string | undefined }[] = []
    const q = queue({
      logger: { warn: (obj, msg) => void warnings.push({ obj: obj as Record<string, unknown>, msg }) },
    })
    const got = new Set<number>()
    await q.consume(Item, (m) => void got.add(m.n), { group: 'reconnect', concurrency: 5 }).ready
    await q.publish(Item, { n: 0 })
    await broker.closeAllConnections('test: first cut')
    const during = [1, 2, 3].map(async (n) => q.publish(Item, { n }))
    await Promise.all(during)
    await waitFor(() => q.health().status === 'ok', { timeout: 10_000, message: 'healthy again' })
    await waitFor(() => got.size === 4, { timeout: 10_000, message: 'all 4 handled' })
    expect(q.health().consumers[0]?.attached).toBe(true)
    // The loss was reported through the logger, once per connection (one episode each), with a code and no payload.
    const episodes = warnings.map((w) => w.obj.episode)
    expect(episodes.length).toBeGreaterThan(0)
    expect(new Set(episodes).size).toBe(episodes.length)
    for (const { obj } of warnings) {
      expect(obj).toMatchObject({
        package: '@scalekit/queue',
        episode: expect.stringMatching(/^connection-(consume|publish)$/) as string,
        code: expect.any(String) as string,
      })
      expect(JSON.stringify(obj)).not.toMatch(/"n":/)
    }
  })

  it('while the broker is down: waits (policy wait), rejects at once (policy reject), bounds the buffer, times out', async () => {
    const waiting = queue({ publishTimeout: 60_000 })
    const rejecting = queue({ buffer: { whenDisconnected: 'reject' } })
    const bounded = queue({ publishTimeout: 60_000, buffer: { maxMessages: 1_000, maxBytes: 64 * 1024 } })
    const short = queue({ publishTimeout: 500 })
    const got = new Set<number>()
    await waiting.consume(Item, (m) => void got.add(m.n), { group: 'down' }).ready
    for (const q of [rejecting, bounded, short]) await q.publish(Item, { n: -1 })

    await broker.stopApp()
    try {
      await waitFor(
        () => [waiting, rejecting, bounded, short].every((q) => q.health().connection !== 'connected'),
        { timeout: 10_000, message: 'all see the outage' },
      )
      // wait: held in the buffer.
      const held = waiting.publish(Item, { n: 1 })
      // reject: refused at once, with why (the broker closing the connection, or a failed reconnection).
      await expect(rejecting.publish(Item, { n: 2 })).rejects.toMatchObject({
        code: 'ERR_QUEUE_DISCONNECTED',
        cause: expect.any(Error) as Error,
      })
      expect(rejecting.health()).toMatchObject({
        status: 'down',
        error: { code: expect.any(String) as string, message: expect.any(String) as string },
      })
      // bounded: 1 KiB messages fill 64 KiB, then every publish is refused at once and memory stays put.
      const pad = 'x'.repeat(1024)
      const refusedCodes: string[] = []
      const pending = Array.from({ length: 200 }, async (_, i) =>
        bounded.publish(Item, { n: 1000 + i, pad }).catch((error: unknown) => {
          refusedCodes.push((error as { code?: string }).code ?? 'none')
        }),
      )
      // Refusals are immediate; the accepted ones wait for the broker.
      await waitFor(() => refusedCodes.length + bounded.health().buffered === 200, {
        timeout: 5_000,
        message: 'every publish accepted or refused',
      })
      const accepted = bounded.health()
      expect(accepted.bufferedBytes).toBeLessThanOrEqual(64 * 1024)
      expect(accepted.buffered).toBeGreaterThan(50)
      expect(new Set(refusedCodes)).toEqual(new Set(['ERR_QUEUE_BUFFER_FULL']))
      // a publish that waits past publishTimeout.
      await expect(short.publish(Item, { n: 3 })).rejects.toMatchObject({ code: 'ERR_QUEUE_PUBLISH_TIMEOUT' })
      expect(waiting.health().status).toBe('degraded')

      await broker.startApp()
      await held
      await waitFor(() => got.has(1), { timeout: 15_000, message: 'the held publish is handled' })
      await Promise.all(pending)
      expect(refusedCodes.length).toBe(200 - accepted.buffered)
      await waitFor(() => waiting.health().status === 'ok', {
        timeout: 10_000,
        message: 'consumer attached again',
      })
    } finally {
      await broker.startApp().catch(() => undefined)
    }
    // The broker itself counts the consumer again.
    await waitFor(
      async () =>
        (await broker.listQueues()).find((x) => x.name === 'faults.down.fault.item')?.consumers === 1,
      {
        timeout: 10_000,
        message: 'broker lists the consumer',
      },
    )
  })

  it('stops writing while the broker blocks publishers (memory alarm) and resumes when it lifts', async () => {
    const q = queue({ publishTimeout: 30_000 })
    const got = new Set<number>()
    await q.consume(Item, (m) => void got.add(m.n), { group: 'blocked' }).ready
    await q.publish(Item, { n: 0 })
    await broker.setMemoryWatermark(0.000001)
    try {
      // The broker blocks a connection when it next publishes during the alarm.
      const first = q.publish(Item, { n: 1 })
      await waitFor(() => q.health().blocked, { timeout: 15_000, message: 'connection.blocked received' })
      const held = q.publish(Item, { n: 2 })
      await sleep(300)
      expect(q.health()).toMatchObject({ status: 'degraded', blocked: true, buffered: 1 })
      expect(got.has(2)).toBe(false)
      await broker.setMemoryWatermark(0.4)
      await Promise.all([first, held])
      await waitFor(() => got.has(1) && got.has(2), { timeout: 10_000, message: 'handled after the alarm' })
      expect(q.health().blocked).toBe(false)
    } finally {
      await broker.setMemoryWatermark(0.4)
    }
  })

  it('close() during load: running handlers finish, nothing is lost or handled twice', async () => {
    const publisher = queue()
    const first = queue()
    const handled = new Map<number, number>()
    let inFlight = 0
    let maxAfterClose = 0
    let closing = false
    const handler = async (m: { n: number }): Promise<void> => {
      inFlight += 1
      if (closing) maxAfterClose = Math.max(maxAfterClose, inFlight)
      await sleep(2)
      handled.set(m.n, (handled.get(m.n) ?? 0) + 1)
      inFlight -= 1
      if (closing) maxAfterClose = Math.max(maxAfterClose, inFlight)
    }
    await first.consume(Item, handler, { group: 'drain', concurrency: 10 }).ready
    const total = 2_000
    const publishing = Promise.all(
      Array.from({ length: total }, async (_, n) => publisher.publish(Item, { n })),
    )
    await waitFor(() => handled.size > 300, { timeout: 20_000, message: 'load under way' })
    closing = true
    await first.close({ timeout: '10s' })
    const runningAfterClose = inFlight
    const second = queue()
    await second.consume(Item, handler, { group: 'drain', concurrency: 10 }).ready
    await publishing
    await waitFor(() => handled.size === total, {
      timeout: 30_000,
      message: `all ${total} handled (have ${handled.size})`,
    })
    expect(runningAfterClose).toBe(0)
    // After close() began, no more than one consumer's `concurrency` ran at once: the closing one
    // started nothing new, and the second started only after the first had drained.
    expect(maxAfterClose).toBeGreaterThan(0)
    expect(maxAfterClose).toBeLessThanOrEqual(10)
    const twice = [...handled.values()].filter((c) => c > 1).length
    // A clean drain hands nothing to the second consumer twice.
    expect(twice).toBe(0)
  })
})
