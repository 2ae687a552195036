import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { createServer } from 'node:net'
import type { AddressInfo, Socket } from 'node:net'
import { freePort, waitFor } from '@scalekit/test-utils'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'
import type { QueueConnectionEvent, QueueDepthEvent } from '../../src/index'

const T = defineMessage('life.cycle', z.object({ n: z.number() }))

describe('lifecycle without a broker', () => {
  it('an unreachable broker: publish and ready fail at once with ERR_QUEUE_UNREACHABLE and the socket error, attempts go on with backoff, one warning per connection, close() does not hang', async () => {
    const port = await freePort()
    const events: QueueConnectionEvent[] = []
    const onEvent = (m: unknown): void => void events.push(m as QueueConnectionEvent)
    subscribe('scalekit:queue:connection', onEvent)
    try {
      const warnings: Record<string, unknown>[] = []
      const logger = { warn: (obj: object): void => void warnings.push(obj as Record<string, unknown>) }
      const q = createQueue({ url: `amqp://127.0.0.1:${port}`, reconnect: { initial: 20, max: 100 }, logger })
      const c = q.consume(T, () => undefined, { group: 'g' })
      // The first publish does not wait for publishTimeout (30 s): it fails with the first failed attempt, saying why.
      const error = await q.publish(T, { n: 1 }).catch((e: unknown) => e)
      expect(error).toMatchObject({
        code: 'ERR_QUEUE_UNREACHABLE',
        cause: expect.objectContaining({ code: 'ECONNREFUSED' }) as Error,
      })
      expect((error as Error).message).toContain(`127.0.0.1:${port}`)
      expect((error as Error).message).toMatch(/check the host and port/)
      await expect(c.ready).rejects.toMatchObject({ code: 'ERR_QUEUE_UNREACHABLE' })
      await waitFor(() => events.filter((e) => e.event === 'reconnecting').length >= 3, {
        message: 'retrying',
      })
      expect(events.find((e) => e.event === 'error')?.code).toBe('ERR_QUEUE_UNREACHABLE')
      // Still refused at once while it has never connected.
      await expect(q.publish(T, { n: 2 })).rejects.toMatchObject({ code: 'ERR_QUEUE_UNREACHABLE' })
      expect(q.health()).toMatchObject({
        status: 'down',
        transport: 'amqp',
        connection: 'connecting',
        error: { code: 'ERR_QUEUE_UNREACHABLE' },
        consumers: [{ attached: false }],
      })
      // Many failed attempts, one warning per connection (episode), with the code and its cause.
      expect(warnings.filter((w) => w.episode === 'connection-consume')).toEqual([
        expect.objectContaining({
          package: '@scalekit/queue',
          code: 'ERR_QUEUE_UNREACHABLE',
          cause: 'ECONNREFUSED',
          role: 'consume',
        }),
      ])
      expect(c.attached).toBe(false)
      await q.close({ timeout: 200 })
      expect(q.health().status).toBe('closed')
    } finally {
      unsubscribe('scalekit:queue:connection', onEvent)
    }
  })

  it('wait policy: a publish pending on a broker that never answers is rejected with ERR_QUEUE_CLOSED when close() gives up on it', async () => {
    // Accepts TCP and says nothing: the connection attempt hangs until connectTimeout.
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => void sockets.add(socket))
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
    const { port } = silent.address() as AddressInfo
    try {
      const q = createQueue({ url: `amqp://127.0.0.1:${port}`, reconnect: { initial: 20, max: 100 } })
      // The expectation is attached before close() rejects the publish, so the rejection is never unhandled.
      const rejected = expect(q.publish(T, { n: 1 })).rejects.toMatchObject({ code: 'ERR_QUEUE_CLOSED' })
      expect(q.health().status).toBe('degraded')
      await q.close({ timeout: 100 })
      await rejected
    } finally {
      for (const socket of sockets) socket.destroy()
      silent.close()
    }
  })
})

describe('memory transport extras', () => {
  it('publishes depth and consumer counts on scalekit:queue:depth', async () => {
    const depth: QueueDepthEvent[] = []
    const onDepth = (m: unknown): void => void depth.push(m as QueueDepthEvent)
    subscribe('scalekit:queue:depth', onDepth)
    try {
      const q = createQueue({ url: 'memory:', app: 'unit_depth', statsInterval: 20 })
      let release = (): void => undefined
      const gate = new Promise<void>((resolve) => (release = resolve))
      q.consume(T, async () => gate, { group: 'g' })
      for (let n = 0; n < 3; n++) await q.publish(T, { n })
      const event = await waitFor(() => depth.find((d) => d.messages === 2), {
        message: 'depth 2 (one in flight)',
      })
      expect(event).toEqual({ type: T.name, group: 'g', messages: 2, consumers: 1 })
      release()
      await q.close({ timeout: 200 })
      expect(q.health().status).toBe('closed')
    } finally {
      unsubscribe('scalekit:queue:depth', onDepth)
    }
  })

  it('a closed consumer stops receiving; its group keeps the messages for the next one', async () => {
    const q = createQueue({ url: 'memory:', app: 'unit_consumer_close' })
    const first: number[] = []
    const c = q.consume(T, (m) => void first.push(m.n), { group: 'g' })
    await q.publish(T, { n: 1 })
    await waitFor(() => first.length === 1)
    await c.close()
    await q.publish(T, { n: 2 })
    const second: number[] = []
    q.consume(T, (m) => void second.push(m.n), { group: 'g' })
    await waitFor(() => second.length === 1)
    expect(first).toEqual([1])
    expect(second).toEqual([2])
    await q.close()
  })

  it('a group queue keeps the deliveryLimit it was declared with; a client asking for another is refused, as RabbitMQ does', async () => {
    const a = createQueue({ url: 'memory:', app: 'unit_delivery_limit', deliveryLimit: 3 })
    const b = createQueue({ url: 'memory:', app: 'unit_delivery_limit', deliveryLimit: 5 })
    await a.consume(T, () => undefined, { group: 'g' }).ready
    const refused = b.consume(T, () => undefined, { group: 'g' })
    await expect(refused.ready).rejects.toMatchObject({
      code: 'ERR_QUEUE_TOPOLOGY_MISMATCH',
      argument: 'x-delivery-limit',
    })
    expect(refused.attached).toBe(false)
    expect(b.health().status).toBe('degraded')
    // Its own group queue takes its own limit.
    await b.consume(T, () => undefined, { group: 'h' }).ready
    await Promise.all([a.close(), b.close()])
  })
})
