import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import type { ConsumeMessage } from 'amqplib'
import { childTraceparent, isTraceparent } from '../../src/context'
import { fromMessage, toProperties } from '../../src/drivers/amqp/codec'
import type { Envelope } from '../../src/drivers/transport'
import { messageTraceparent, uuidv7, uuidv7Time } from '../../src/internal/ids'
import { backoffDelay } from '@scalekit/internal'
import { delayStep, topology } from '../../src/drivers/amqp/topology'
import { dedupKey } from '../../src/dedup'
import { createMemoryDedupStore, defaults, defineMessage } from '../../src/index'

describe('backoff (the shared one, with the queue defaults)', () => {
  it('grows by factor, caps at max; jitter takes up to its share off each delay, never adds', () => {
    const b = { initial: 100, factor: 2, max: 1_000, jitter: 0 }
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(b, n))).toEqual([100, 200, 400, 800, 1_000, 1_000])
    const retry = defaults.consume.backoff
    expect(backoffDelay(retry, 1, () => 0)).toBe(1_000)
    expect(backoffDelay(retry, 1, () => 1)).toBe(800)
    const reconnect = defaults.reconnect
    expect(backoffDelay(reconnect, 1, () => 0)).toBe(100)
    expect(backoffDelay(reconnect, 1, () => 1)).toBe(50)
  })
})

describe('delay ladder', () => {
  it('puts a delay in the power-of-two step at or below it', () => {
    expect([1, 99, 100, 199, 200, 399, 400, 1_000, 86_400_000].map(delayStep)).toEqual([
      100,
      100,
      100,
      100,
      200,
      200,
      400,
      800,
      100 * 2 ** 19,
    ])
  })

  it('names cannot collide: types and groups have no colon', () => {
    const t = topology('app')
    expect(t.groupQueue('order.placed', 'billing')).toBe('app.billing.order.placed')
    expect(t.deadLetterQueue('billing')).toBe('app.billing:dead-letter')
    expect(t.delayQueue(400)).toBe('app:delay:400')
    expect(t.retryKey('order.placed', 'billing')).toBe('retry:billing.order.placed')
  })
})

describe('traceparent', () => {
  it('keeps the trace id and flags, with a new parent id', () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const child = childTraceparent(parent)
    expect(isTraceparent(child)).toBe(true)
    expect(child.slice(0, 36)).toBe(parent.slice(0, 36))
    expect(child).not.toBe(parent)
  })

  it("sends none without a valid parent; the consumer joins the message id's trace", () => {
    expect(childTraceparent(undefined)).toBe('')
    expect(childTraceparent('garbage')).toBe('')
    const id = uuidv7(Date.now())
    const a = messageTraceparent(id)
    expect(a).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    expect(a.slice(3, 35)).toBe(id.replaceAll('-', ''))
    // Two groups handling one message join one trace, as two hops.
    const b = messageTraceparent(id)
    expect(b.slice(0, 36)).toBe(a.slice(0, 36))
    expect(b).not.toBe(a)
    // An id that is no UUID: a new trace each time.
    expect(messageTraceparent('order-42')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    expect(messageTraceparent('order-42').slice(3, 35)).not.toBe(messageTraceparent('order-42').slice(3, 35))
    expect(messageTraceparent('0AF76519-16CD-43DD-8448-EB211C80319C').slice(3, 35)).toBe(
      '0af7651916cd43dd8448eb211c80319c',
    )
  })
})

describe('message ids', () => {
  it('are version 7 UUIDs carrying their time, unique, and read back only from a UUIDv7', () => {
    const now = Date.UTC(2026, 10, 28, 12, 34, 56, 789)
    const ids = Array.from({ length: 2_000 }, () => uuidv7(now))
    expect(new Set(ids).size).toBe(ids.length)
    for (const id of ids.slice(0, 50)) {
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(uuidv7Time(id)).toBe(now)
    }
    expect(uuidv7(0).slice(0, 13)).toBe('00000000-0000')
    expect(uuidv7Time(uuidv7(2 ** 48 - 1))).toBe(2 ** 48 - 1)
    expect(uuidv7Time('0af76519-16cd-43dd-8448-eb211c80319c')).toBeUndefined() // a v4
    expect(uuidv7Time('0af76519-16cd-73dd-c448-eb211c80319c')).toBeUndefined() // wrong variant
    expect(uuidv7Time('0af7651x-16cd-73dd-8448-eb211c80319c')).toBeUndefined()
    expect(uuidv7Time('order-42')).toBeUndefined()
  })
})

describe('AMQP properties', () => {
  const env = (over: Partial<Envelope>): Envelope => ({
    messageId: 'order-42',
    type: 'order.placed',
    body: Buffer.from('{}'),
    publishedAt: 1_795_000_000_123,
    correlationId: '',
    traceparent: '',
    attempt: 1,
    ...over,
  })

  it('carry only what the consumer cannot derive, and read back to the same envelope', () => {
    const id = uuidv7(1_795_000_000_123)
    const plain = toProperties(env({ messageId: id }), undefined)
    expect(plain).toEqual({
      persistent: true,
      mandatory: true,
      contentType: 'application/json',
      messageId: id,
    })
    const own = toProperties(
      env({
        correlationId: 'req-1',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        attempt: 3,
      }),
      undefined,
    )
    expect(own.headers).toEqual({
      'x-sk-attempt': 3,
      'x-sk-published-at': 1_795_000_000_123,
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    })
    expect(own.correlationId).toBe('req-1')
    expect(own.type).toBeUndefined()
    const dead = toProperties(env({ messageId: id }), { 'x-sk-reason': 'failed' }, true)
    expect(dead).toMatchObject({
      type: 'order.placed',
      timestamp: 1_795_000_000,
      headers: { 'x-sk-reason': 'failed' },
    })
    for (const [props, wanted] of [
      [plain, env({ messageId: id })],
      [
        own,
        env({
          correlationId: 'req-1',
          traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
          attempt: 3,
        }),
      ],
    ] as const) {
      const msg = {
        content: wanted.body,
        fields: { deliveryTag: 1, redelivered: false },
        properties: { headers: undefined, ...props },
      } as unknown as ConsumeMessage
      expect(fromMessage(msg, { type: 'order.placed', retryKey: undefined })).toEqual(wanted)
    }
  })

  const raw = (
    properties: Record<string, unknown>,
    routingKey = 'order.placed',
    body = '{"orderId":1}',
  ): ConsumeMessage =>
    ({
      content: Buffer.from(body),
      fields: { deliveryTag: 1, redelivered: false, exchange: 'shop', routingKey },
      properties: { headers: undefined, ...properties },
    }) as unknown as ConsumeMessage
  const as = { type: 'order.placed', retryKey: 'retry:billing.order.placed' }

  it("never let a message's own fields steer the consumer: type and attempt come from the consumer and its retry path", () => {
    const forged = raw({ messageId: 'm1', type: 'order.refund', headers: { 'x-sk-attempt': 99 } })
    expect(fromMessage(forged, as)).toMatchObject({ type: 'order.placed', attempt: 1 })
    // The same header on a delivery that came by this group's retry routing key is the package's own.
    const retried = raw({ messageId: 'm1', headers: { 'x-sk-attempt': 3 } }, 'retry:billing.order.placed')
    expect(fromMessage(retried, as)).toMatchObject({ type: 'order.placed', attempt: 3 })
    // Another group's retry key is not this group's.
    const other = raw({ messageId: 'm1', headers: { 'x-sk-attempt': 3 } }, 'retry:shipping.order.placed')
    expect(fromMessage(other, as).attempt).toBe(1)
    // A malformed traceparent header is dropped (the consumer joins the message's own trace).
    expect(fromMessage(raw({ messageId: 'm1', headers: { traceparent: 'x' } }), as).traceparent).toBe('')
  })

  it('give a message without messageId a stable id derived from what redeliveries keep', () => {
    const a = fromMessage(raw({}), as)
    expect(a.messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
    expect(fromMessage(raw({}), as).messageId).toBe(a.messageId)
    expect(fromMessage(raw({ messageId: '' }), as).messageId).toBe(a.messageId)
    expect(fromMessage(raw({}, 'order.placed', '{"orderId":2}'), as).messageId).not.toBe(a.messageId)
    expect(fromMessage(raw({ timestamp: 1_795_000_000 }), as).messageId).not.toBe(a.messageId)
    expect(fromMessage(raw({ timestamp: 1_795_000_000 }), as).publishedAt).toBe(1_795_000_000_000)
  })
})

describe('dedup key', () => {
  it('is one per (group, type, message id): no two choices share a key, whatever the id holds', () => {
    const groups = ['billing', 'billing-a', 'a']
    const types = ['order.placed', 'order', 'placed.a']
    const ids = ['order-1', '', ':', 'a:order', 'billing:order.placed:order-1', 'order-1:x']
    const keys = new Set<string>()
    for (const g of groups) for (const t of types) for (const id of ids) keys.add(dedupKey(g, t, id))
    expect(keys.size).toBe(groups.length * types.length * ids.length)
    // What keeps it so: a type or group name with the separator is refused where it is defined.
    expect(() => defineMessage('order:placed', z.object({}))).toThrow(
      expect.objectContaining({ code: 'ERR_QUEUE_INVALID_ARGUMENT' }),
    )
  })
})

describe('memory dedup store', () => {
  it('claims once, reports busy while held, done after complete, free after release', async () => {
    const store = createMemoryDedupStore()
    expect(await store.claim('a', 10_000)).toBe('claimed')
    expect(await store.claim('a', 10_000)).toBe('busy')
    await store.release('a')
    expect(await store.claim('a', 10_000)).toBe('claimed')
    await store.complete('a')
    expect(await store.claim('a', 10_000)).toBe('done')
  })

  it('frees a claim whose lease ran out', async () => {
    const store = createMemoryDedupStore()
    expect(await store.claim('b', 1)).toBe('claimed')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(await store.claim('b', 1_000)).toBe('claimed')
  })
})
