import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { QueueOptionsError, createQueue, defaults, defineMessage } from '../../src/index'
import type { QueueOptions } from '../../src/index'

const T = defineMessage('opt.test', z.object({ n: z.number() }))

describe('options are validated at construction with ERR_QUEUE_INVALID_OPTIONS', () => {
  it.each([
    [{ url: 'http://x' }, /url/],
    [{ app: 'has space' }, /app/],
    [{ maxInFlight: 0 }, /maxInFlight/],
    [{ publishConnections: 0 }, /publishConnections/],
    [{ publishConnections: 9 }, /publishConnections must be a whole number \(>= 1, <= 8\)/],
    [{ publishTimeout: '5 s' as '5s' }, /publishTimeout must be a duration/],
    [{ maxDelay: 2 ** 31 }, /maxDelay/],
    [{ logger: {} as never }, /logger/],
    [{ publishChannels: 0 }, /publishChannels/],
    [{ publishTimeout: -1 }, /publishTimeout/],
    [{ buffer: { maxBytes: 1.5 } }, /buffer.maxBytes/],
    [{ buffer: { whenDisconnected: 'drop' as 'wait' } }, /whenDisconnected/],
    [{ reconnect: { factor: 0.5 } }, /reconnect.factor/],
    [{ reconnect: { jitter: 2 } }, /reconnect.jitter/],
  ])('createQueue(%j)', (options, message) => {
    expect(() => createQueue({ url: 'memory:', ...options })).toThrow(
      expect.objectContaining({
        code: 'ERR_QUEUE_INVALID_OPTIONS',
        message: expect.stringMatching(message) as string,
      }) as Error,
    )
  })

  it('a missing url is refused, never taken to mean memory: the error says how to pick each transport', () => {
    for (const options of [{}, { url: undefined }, { url: '' }, { url: null }] as unknown as QueueOptions[]) {
      const error = (() => {
        try {
          createQueue(options)
        } catch (e) {
          return e
        }
        return undefined
      })()
      expect(error).toBeInstanceOf(QueueOptionsError)
      expect((error as Error).message).toMatch(/url is required: an amqp:\/\/ or amqps:\/\/ URL.*'memory:'/)
    }
    // Even with NODE_ENV unset: the explicit form everywhere.
    expect(createQueue({ url: 'memory:' }).health().transport).toBe('memory')
    expect(createQueue({ url: 'amqp://127.0.0.1:1' }).health()).toMatchObject({
      transport: 'amqp',
      connection: 'idle',
    })
    // The nodes of one cluster, as a list.
    expect(createQueue({ url: ['amqp://127.0.0.1:1', 'amqp://127.0.0.1:2'] }).health()).toMatchObject({
      transport: 'amqp',
      connection: 'idle',
      nodes: { consume: undefined, publish: [] },
    })
  })

  it.each([
    ['createQueue(null)', () => createQueue(null as never), /options object/],
    ['createQueue([])', () => createQueue([] as never), /options object/],
    ['createQueue(42)', () => createQueue(42 as never), /options object/],
    ['url: 42', () => createQueue({ url: 42 as never }), /url must be/],
    ['url: amqp:// without host', () => createQueue({ url: 'amqp://' }), /url/],
    ['url with a password', () => createQueue({ url: 'redis://u:secret@h' }), /url must be/],
    ['url: []', () => createQueue({ url: [] }), /url as a list names the nodes of one RabbitMQ cluster/],
    ['url: ["memory:"]', () => createQueue({ url: ['memory:'] }), /url\[0\] is 'memory:'/],
    ['url: [amqp, http]', () => createQueue({ url: ['amqp://a', 'http://b'] }), /url\[1\] must be/],
    ['url: [amqp, 42]', () => createQueue({ url: ['amqp://a', 42 as never] }), /url\[1\] must be/],
    [
      'url: "amqp://a:1,amqp://b:2"',
      () => createQueue({ url: 'amqp://a:1,amqp://b:2' }),
      /not a valid URL.*pass them as a list, e\.g\. value\.split\(','\)/,
    ],
    ['app: 42', () => createQueue({ url: 'memory:', app: 42 as never }), /app must be/],
    ['logger: null', () => createQueue({ url: 'memory:', logger: null as never }), /logger/],
    ['logger: "x"', () => createQueue({ url: 'memory:', logger: 'x' as never }), /logger/],
    ['buffer: []', () => createQueue({ url: 'memory:', buffer: [] as never }), /buffer must be an object/],
    ['declare: []', () => createQueue({ url: 'memory:', declare: [] as never }), /declare must be an object/],
    [
      'declare: { t: "g" }',
      () => createQueue({ url: 'memory:', declare: { t: 'g' as never } }),
      /declare\['t'\]/,
    ],
    ['declare: { t: [] }', () => createQueue({ url: 'memory:', declare: { t: [] } }), /non-empty array/],
    [
      'declare: { "a b": ["g"] }',
      () => createQueue({ url: 'memory:', declare: { 'a b': ['g'] } }),
      /declare/,
    ],
    ['declare: { t: ["a.b"] }', () => createQueue({ url: 'memory:', declare: { t: ['a.b'] } }), /group/],
  ])('%s: ERR_QUEUE_INVALID_OPTIONS naming the option', (_name, make, message) => {
    expect(make).toThrow(
      expect.objectContaining({
        code: 'ERR_QUEUE_INVALID_OPTIONS',
        message: expect.stringMatching(message) as string,
      }) as Error,
    )
    // Never the password of a URL in a message.
    expect(make).not.toThrow(/secret/)
  })

  it('calls with arguments of the wrong type: ERR_QUEUE_INVALID_ARGUMENT naming the argument, never a TypeError', async () => {
    const q = createQueue({ url: 'memory:', app: 'unit_bad_calls' })
    const h = (): void => undefined
    const sync: [() => unknown, RegExp][] = [
      [() => q.consume(T, h, null as never), /consume needs options with a group/],
      [() => q.consume(T, h, [] as never), /consume needs options/],
      [() => q.consume(null as never, h, { group: 'g' }), /message type/],
      [() => q.consume({ name: 'x' } as never, h, { group: 'g' }), /message type/],
      [() => q.consume(T, null as never, { group: 'g' }), /handler/],
      [() => q.consume(T, h, { group: 'g', dedup: null as never }), /dedup/],
      [() => q.consume(T, h, { group: 'g', dedup: 'x' as never }), /dedup/],
      [() => q.consume(T, h, { group: 'g', nonRetryable: 'x' as never }), /nonRetryable/],
      [() => q.consume(T, h, { group: 'g', handlerTimeout: 2 ** 31 }), /handlerTimeout/],
    ]
    for (const [call, message] of sync) {
      expect(call).toThrow(
        expect.objectContaining({
          code: 'ERR_QUEUE_INVALID_ARGUMENT',
          message: expect.stringMatching(message) as string,
        }) as Error,
      )
    }
    q.consume(T, h, { group: 'g' })
    const async: [Promise<unknown>, RegExp][] = [
      [q.publish(null as never, { n: 1 }), /message type/],
      [q.publish(T, { n: 1 }, null as never), /options must be an object/],
      [q.publish(T, { n: 1 }, 'x' as never), /options must be an object/],
      [q.publish(T, { n: 1 }, { correlationId: 42 as never }), /correlationId/],
      [q.publish(T, { n: 1 }, { correlationId: 'é'.repeat(200) }), /correlationId/],
      [q.publish(T, { n: 1 }, { messageId: 'é'.repeat(150) }), /messageId.*255 UTF-8 bytes/],
      [q.publish(T, { n: 1 }, { traceparent: 'not-a-traceparent' }), /traceparent/],
      [q.publish(T, { n: 1 }, { delay: 2 ** 31 }), /delay/],
    ]
    for (const [call, message] of async) {
      await expect(call).rejects.toMatchObject({
        code: 'ERR_QUEUE_INVALID_ARGUMENT',
        message: expect.stringMatching(message) as string,
      })
    }
    await q.close()
  })

  it('consume options are arguments of a call: ERR_QUEUE_INVALID_ARGUMENT', async () => {
    const q = createQueue({ url: 'memory:' })
    const bad = [
      [{ group: 'a.b' }, /group/],
      [{ group: 'g', concurrency: 0 }, /concurrency/],
      [{ group: 'g', concurrency: 4, prefetch: 2 }, /prefetch/],
      [{ group: 'g', backoff: { max: defaults.maxDelay + 1 } }, /backoff.max/],
      [{ group: 'g', attempts: 1.5 }, /attempts/],
    ] as const
    for (const [options, message] of bad) {
      expect(() => q.consume(T, () => undefined, options)).toThrow(
        expect.objectContaining({
          code: 'ERR_QUEUE_INVALID_ARGUMENT',
          message: expect.stringMatching(message) as string,
        }) as Error,
      )
    }
    await q.close()
  })

  it('message names and schemas: ERR_QUEUE_INVALID_ARGUMENT', () => {
    expect(() => defineMessage('has space', z.string())).toThrow(
      expect.objectContaining({ code: 'ERR_QUEUE_INVALID_ARGUMENT' }) as Error,
    )
    expect(() => defineMessage('a:b', z.string())).toThrow(
      expect.objectContaining({ code: 'ERR_QUEUE_INVALID_ARGUMENT' }) as Error,
    )
    expect(() => defineMessage('ok.name', {} as never)).toThrow(/Standard Schema/)
    expect(defineMessage('order.placed-v2', z.string()).name).toBe('order.placed-v2')
  })

  it('one defaults object', () => {
    expect(defaults).toMatchObject({
      app: 'scalekit',
      maxInFlight: 1024,
      publishConnections: 1,
      publishChannels: 2,
      deliveryLimit: 10,
      buffer: { maxMessages: 10_000, whenDisconnected: 'wait' },
    })
  })
})

describe('publish refuses bad input with coded errors, sending nothing', () => {
  it('invalid payload: ERR_QUEUE_INVALID_PAYLOAD with the issues', async () => {
    const q = createQueue({ url: 'memory:', app: 'unit_pub_invalid' })
    q.consume(T, () => undefined, { group: 'g' })
    const error = await q.publish(T, { n: 'x' as unknown as number }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_QUEUE_INVALID_PAYLOAD' })
    expect((error as { issues: unknown[] }).issues.length).toBeGreaterThan(0)
    expect((error as Error).message).toMatch(/n:/)
    await q.close()
  })

  it('too large: ERR_QUEUE_MESSAGE_TOO_LARGE; bad delay or message id: ERR_QUEUE_INVALID_ARGUMENT', async () => {
    const Big = defineMessage('big', z.string())
    const q = createQueue({ url: 'memory:', app: 'unit_pub_big', maxMessageBytes: 100, maxDelay: 1_000 })
    await expect(q.publish(Big, 'x'.repeat(200))).rejects.toMatchObject({
      code: 'ERR_QUEUE_MESSAGE_TOO_LARGE',
    })
    await expect(q.publish(Big, 'x', { delay: 2_000 })).rejects.toMatchObject({
      code: 'ERR_QUEUE_INVALID_ARGUMENT',
    })
    await expect(q.publish(Big, 'x', { delay: '2s' })).rejects.toMatchObject({
      code: 'ERR_QUEUE_INVALID_ARGUMENT',
    })
    await expect(q.publish(Big, 'x', { delay: -1 })).rejects.toMatchObject({
      code: 'ERR_QUEUE_INVALID_ARGUMENT',
    })
    await expect(q.publish(Big, 'x', { messageId: '' })).rejects.toMatchObject({
      code: 'ERR_QUEUE_INVALID_ARGUMENT',
    })
    await expect(q.takeDeadLetters('a.b')).rejects.toMatchObject({ code: 'ERR_QUEUE_INVALID_ARGUMENT' })
    await expect(q.takeDeadLetters('g', { max: 0 })).rejects.toMatchObject({
      code: 'ERR_QUEUE_INVALID_ARGUMENT',
    })
    await q.close()
  })
})

describe('close({ timeout })', () => {
  it('takes a duration; a bad one is ERR_QUEUE_INVALID_ARGUMENT and does not close', async () => {
    const q = createQueue({ url: 'memory:', app: 'unit_close_args' })
    await expect(q.close({ timeout: 'soon' as '1s' })).rejects.toMatchObject({
      code: 'ERR_QUEUE_INVALID_ARGUMENT',
    })
    expect(q.health().status).toBe('ok')
    const first = q.close({ timeout: '1s' })
    expect(q.close()).toBe(first)
    await first
    expect(q.health().status).toBe('closed')
  })

  it('is what `await using` calls, for the queue and a consumer', async () => {
    let consumerClosed: Promise<void> | undefined
    {
      await using q = createQueue({ url: 'memory:', app: 'unit_close_dispose' })
      await using c = q.consume(T, () => undefined, { group: 'g' })
      consumerClosed = c.close()
      expect(c.close()).toBe(consumerClosed)
    }
    await expect(consumerClosed).resolves.toBeUndefined()
  })
})
