import { EventEmitter } from 'node:events'
import type { ConfirmChannel, Options } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { Publisher } from '../../src/drivers/amqp/publisher'
import type { Outgoing } from '../../src/drivers/amqp/publisher'
import { resolveQueueOptions } from '../../src/options'
import { createWarner } from '@scalekit/internal'

/** A confirm channel that records publishes and lets the test confirm, nack or return them. */
class FakeChannel extends EventEmitter {
  readonly sent: { content: string; properties: Options.Publish; confirm: (err: unknown) => void }[] = []
  publish(
    _ex: string,
    _rk: string,
    content: Buffer,
    properties: Options.Publish,
    cb: (err: unknown) => void,
  ): boolean {
    this.sent.push({ content: content.toString(), properties, confirm: cb })
    return true
  }
}

const out = (n: number, deadline = Date.now() + 10_000): Outgoing => ({
  exchange: 'x',
  routingKey: 'k',
  content: Buffer.from(String(n)),
  properties: { messageId: `m${n}`, headers: {} },
  deadline,
  step: undefined,
  kind: 'message',
  messageId: `m${n}`,
  type: 't',
})

const setup = (options: Partial<Parameters<typeof resolveQueueOptions>[0]> = {}) => {
  const publisher = new Publisher(
    resolveQueueOptions({ url: 'amqp://x', ...options }),
    () => true,
    createWarner('queue', { warn: () => undefined }),
  )
  const ch = new FakeChannel()
  return {
    publisher,
    ch,
    attach: () => {
      publisher.attach(ch as unknown as ConfirmChannel)
    },
  }
}

describe('publisher', () => {
  it('keeps at most maxInFlight unconfirmed, sending more as confirms arrive', async () => {
    const { publisher, ch, attach } = setup({ maxInFlight: 3 })
    attach()
    const done = [1, 2, 3, 4, 5].map(async (n) => publisher.publish(out(n)))
    expect(ch.sent.length).toBe(3)
    expect(publisher.buffered).toBe(2)
    ch.sent[0]?.confirm(null)
    await Promise.resolve()
    expect(ch.sent.length).toBe(4)
    for (const s of ch.sent.slice(1)) s.confirm(null)
    ch.sent[4]?.confirm(null)
    await Promise.all(done)
    expect(publisher.inFlight).toBe(0)
  })

  it('re-sends unconfirmed messages, same id, after the connection comes back; a closed-channel confirm is not a failure', async () => {
    const { publisher, ch, attach } = setup()
    attach()
    const p = publisher.publish(out(1))
    ch.sent[0]?.confirm(new Error('channel closed'))
    publisher.detach()
    expect(publisher.buffered).toBe(1)
    const ch2 = new FakeChannel()
    publisher.attach(ch2 as unknown as ConfirmChannel)
    expect(ch2.sent[0]?.properties.messageId).toBe('m1')
    ch2.sent[0]?.confirm(null)
    await expect(p).resolves.toEqual({ messageId: 'm1' })
  })

  it('writes to several confirm channels in turn; one lost sends its unconfirmed messages, in publish order, over the others', async () => {
    const { publisher, ch, attach } = setup({ maxInFlight: 100 })
    attach()
    const other = new FakeChannel()
    publisher.attach(other as unknown as ConfirmChannel)
    expect(publisher.lanes).toBe(2)
    const done = [1, 2, 3, 4, 5, 6].map(async (n) => publisher.publish(out(n)))
    expect(ch.sent.map((s) => s.content)).toEqual(['1', '3', '5'])
    expect(other.sent.map((s) => s.content)).toEqual(['2', '4', '6'])
    other.sent[1]?.confirm(null)
    publisher.detach(ch as unknown as ConfirmChannel)
    expect(publisher.lanes).toBe(1)
    // 1, 3, 5 come back ahead of nothing else waiting, in their order; 4 stays confirmed.
    expect(other.sent.map((s) => s.content)).toEqual(['2', '4', '6', '1', '3', '5'])
    for (const s of other.sent) s.confirm(null)
    await Promise.all(done)
    expect(publisher.inFlight).toBe(0)
    publisher.detach(other as unknown as ConfirmChannel)
    expect(publisher.lanes).toBe(0)
  })

  it('turns a nack into ERR_QUEUE_PUBLISH_NACKED and a return into ERR_QUEUE_UNROUTABLE', async () => {
    const { publisher, ch, attach } = setup()
    attach()
    const nacked = publisher.publish(out(1))
    const returned = publisher.publish(out(2))
    ch.sent[0]?.confirm(new Error('message nacked'))
    ch.emit('return', { fields: { exchange: 'x', routingKey: 'k' }, properties: ch.sent[1]?.properties })
    ch.sent[1]?.confirm(null)
    await expect(nacked).rejects.toMatchObject({ code: 'ERR_QUEUE_PUBLISH_NACKED' })
    await expect(returned).rejects.toMatchObject({ code: 'ERR_QUEUE_UNROUTABLE' })
  })

  it('while disconnected: bounded by count and bytes, reject policy, deadline', async () => {
    const { publisher } = setup({ buffer: { maxMessages: 2, maxBytes: 1_000 } })
    const a = publisher.publish(out(1))
    const b = publisher.publish(out(2))
    await expect(publisher.publish(out(3))).rejects.toMatchObject({ code: 'ERR_QUEUE_BUFFER_FULL' })
    expect(publisher.buffered).toBe(2)
    await publisher.close(Date.now())
    await expect(a).rejects.toMatchObject({ code: 'ERR_QUEUE_CLOSED' })
    await expect(b).rejects.toMatchObject({ code: 'ERR_QUEUE_CLOSED' })

    const bytes = setup({ buffer: { maxBytes: 3 } }).publisher
    const big = { ...out(1), content: Buffer.alloc(4) }
    await expect(bytes.publish(big)).rejects.toMatchObject({ code: 'ERR_QUEUE_BUFFER_FULL' })

    const rejecting = setup({ buffer: { whenDisconnected: 'reject' } }).publisher
    rejecting.markDown(new Error('connect ECONNREFUSED'))
    await expect(rejecting.publish(out(1))).rejects.toMatchObject({ code: 'ERR_QUEUE_DISCONNECTED' })

    const timing = setup().publisher
    await expect(timing.publish(out(1, Date.now() + 20))).rejects.toMatchObject({
      code: 'ERR_QUEUE_PUBLISH_TIMEOUT',
    })
    expect(timing.buffered).toBe(0)
  })

  it('rejects each message at its own publishTimeout, buffered or in flight, with one deadline armed at a time', async () => {
    const { publisher, ch, attach } = setup({ maxInFlight: 1 })
    attach()
    const now = Date.now()
    // The first arms the deadline and is confirmed before it; the others are buffered behind the window of 1.
    const first = publisher.publish(out(1, now + 30))
    const second = publisher.publish(out(2, now + 60))
    const third = publisher.publish(out(3, now + 10_000))
    ch.sent[0]?.confirm(null)
    await expect(first).resolves.toEqual({ messageId: 'm1' })
    // Sent once the window freed, never confirmed: it times out in flight, and frees the window for the third.
    await expect(second).rejects.toMatchObject({ code: 'ERR_QUEUE_PUBLISH_TIMEOUT' })
    expect(ch.sent.map((s) => s.content)).toEqual(['1', '2', '3'])
    ch.sent[2]?.confirm(null)
    await expect(third).resolves.toEqual({ messageId: 'm3' })
    expect(publisher.inFlight + publisher.buffered).toBe(0)
    // Idle, then busy again: a deadline is armed again.
    await expect(publisher.publish(out(4, Date.now() + 20))).rejects.toMatchObject({
      code: 'ERR_QUEUE_PUBLISH_TIMEOUT',
    })
    void publisher.close(Date.now())
  })

  it('warns once per episode as the buffer fills and when it is full, never with a payload', async () => {
    const warnings: Record<string, unknown>[] = []
    const publisher = new Publisher(
      resolveQueueOptions({ url: 'amqp://x', buffer: { maxMessages: 4 } }),
      () => true,
      createWarner('queue', { warn: (obj) => void warnings.push(obj as Record<string, unknown>) }),
    )
    const pending = [1, 2, 3, 4].map(async (n) => publisher.publish(out(n)).catch(() => undefined))
    await expect(publisher.publish(out(5))).rejects.toMatchObject({ code: 'ERR_QUEUE_BUFFER_FULL' })
    await expect(publisher.publish(out(6))).rejects.toMatchObject({ code: 'ERR_QUEUE_BUFFER_FULL' })
    expect(warnings.map((w) => w.episode)).toEqual(['buffer-filling', 'buffer-full'])
    expect(warnings[0]).toMatchObject({
      package: '@scalekit/queue',
      code: 'ERR_QUEUE_BUFFER_FULL',
      buffered: 3,
    })
    expect(JSON.stringify(warnings)).not.toMatch(/m[1-6]/)
    await publisher.close(Date.now())
    await Promise.all(pending)
  })

  it('stops writing while the broker blocks publishes', () => {
    const { publisher, ch, attach } = setup()
    attach()
    publisher.setBlocked(true)
    void publisher.publish(out(1)).catch(() => undefined)
    expect(ch.sent.length).toBe(0)
    publisher.setBlocked(false)
    expect(ch.sent.length).toBe(1)
    void publisher.close(Date.now())
  })
})
