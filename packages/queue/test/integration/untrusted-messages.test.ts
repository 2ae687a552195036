import { serviceUrls, sleep, uniqueName, waitFor } from '@scalekit/test-utils'
import type { Options } from 'amqplib'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'
import type { MessageContext, Queue, QueueDeadLetterEvent } from '../../src/index'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { deleteTopology, withChannel } from './support/amqp-admin'

/**
 * Messages from a plain amqplib publisher (another service, a script, a shovel): what they carry
 * must never steer the consumer — not its retry routing, not its attempt count — and a message
 * without a `messageId` is handled, not dead-lettered.
 */
describe('messages published by plain amqplib', () => {
  const app = uniqueName('queue_raw')
  const suffix = Math.random().toString(36).slice(2, 8)
  const Placed = defineMessage(`order.placed.${suffix}`, z.object({ orderId: z.number() }))
  const Refund = defineMessage(`order.refund.${suffix}`, z.object({ orderId: z.number() }))
  const queues: Queue[] = []
  const deadLetters: QueueDeadLetterEvent[] = []
  const onDeadLetter = (m: unknown): void => void deadLetters.push(m as QueueDeadLetterEvent)
  const backoff = { initial: 50, max: 50, jitter: 0 }

  const queue = (): Queue => {
    const q = createQueue({ url: serviceUrls.amqp, app, logger: { warn: () => undefined } })
    queues.push(q)
    return q
  }
  const rawPublish = async (routingKey: string, body: unknown, properties: Options.Publish): Promise<void> =>
    withChannel(async (ch) => {
      ch.publish(app, routingKey, Buffer.from(JSON.stringify(body)), properties)
      // A round trip on the same channel: the publish before it has reached the broker.
      await ch.checkExchange(app)
    })

  subscribe('scalekit:queue:dead-letter', onDeadLetter)
  afterEach(async () => {
    await Promise.all(queues.splice(0).map(async (q) => q.close({ timeout: 5_000 })))
    deadLetters.length = 0
  })
  afterAll(async () => {
    unsubscribe('scalekit:queue:dead-letter', onDeadLetter)
    await deleteTopology(app, [Placed.name, Refund.name], ['billing', 'g'])
  })

  it("retries into the consumer's own type and group, whatever the AMQP `type` property says", async () => {
    const q = queue()
    const placed: MessageContext[] = []
    const refunds: number[] = []
    await q.consume(
      Placed,
      (_m, ctx) => {
        placed.push(ctx)
        if (ctx.attempt === 1) throw new Error('first attempt fails')
      },
      { group: 'billing', backoff },
    ).ready
    await q.consume(Refund, (m) => void refunds.push(m.orderId), { group: 'billing' }).ready
    await rawPublish(Placed.name, { orderId: 1 }, { messageId: 'raw-typed', type: Refund.name })
    await waitFor(() => placed.length === 2, { timeout: 10_000, message: 'retried once' })
    await sleep(300)
    expect(placed.map((c) => [c.type, c.attempt])).toEqual([
      [Placed.name, 1],
      [Placed.name, 2],
    ])
    expect(refunds).toEqual([])
  })

  it('takes the attempt count only from its own retry path: a raw x-sk-attempt: 99 is attempt 1', async () => {
    const q = queue()
    const attempts: number[] = []
    await q.consume(
      Placed,
      (_m, ctx) => {
        attempts.push(ctx.attempt)
        if (ctx.attempt === 1) throw new Error('first attempt fails')
      },
      { group: 'g', attempts: 3, backoff },
    ).ready
    await rawPublish(
      Placed.name,
      { orderId: 2 },
      { messageId: 'raw-attempt', headers: { 'x-sk-attempt': 99 } },
    )
    await waitFor(() => attempts.length === 2, { timeout: 10_000, message: 'retried, not dead-lettered' })
    await sleep(300)
    expect(attempts).toEqual([1, 2])
    expect(deadLetters).toEqual([])
  })

  it('handles a message without messageId under a stable derived id (kept by its retry), not as undecodable', async () => {
    const q = queue()
    const seen: MessageContext[] = []
    await q.consume(
      Placed,
      (_m, ctx) => {
        seen.push(ctx)
        if (ctx.attempt === 1) throw new Error('first attempt fails')
      },
      { group: 'g', backoff },
    ).ready
    await rawPublish(Placed.name, { orderId: 3 }, { timestamp: 1_795_000_000 })
    await waitFor(() => seen.length === 2, { timeout: 10_000, message: 'handled twice (one retry)' })
    expect(deadLetters).toEqual([])
    const [first, second] = seen
    expect(first?.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(second?.messageId).toBe(first?.messageId)
    expect(first?.publishedAt.getTime()).toBe(1_795_000_000_000)
  })
})
