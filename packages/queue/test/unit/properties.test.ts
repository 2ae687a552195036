import { waitFor } from '@scalekit/test-utils'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  QueueArgumentError,
  QueueError,
  QueueOptionsError,
  createQueue,
  defineMessage,
} from '../../src/index'
import type { MessageContext, Queue } from '../../src/index'

/**
 * The classes of issue 12 (options that fail late or obscurely, payloads JSON cannot carry) closed
 * by ranging over them: any option value, any payload, any publish option gives a coded error or
 * a success — never a raw TypeError, a hang, or a message accepted and then lost.
 */

/** Fails the property if `work` takes longer than this: a hang, not a slow machine. */
const HANG_MS = 5_000

async function settled<T>(
  work: () => T | Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  let timer: NodeJS.Timeout | undefined
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`hung for ${HANG_MS} ms`))
    }, HANG_MS)
  })
  try {
    return { ok: true, value: await Promise.race([Promise.resolve().then(work), hang]) }
  } catch (error) {
    if (error instanceof Error && error.message.startsWith('hung for')) throw error
    return { ok: false, error }
  } finally {
    clearTimeout(timer)
  }
}

/** Durations as users write them, and past what Node's timers hold (2³¹−1 ms). */
const duration = fc.oneof(
  fc.integer({ min: -10, max: 100_000 }),
  fc.integer({ min: 2 ** 31 - 3, max: 2 ** 31 + 3 }),
  fc.constantFrom(2 ** 53, 1e20, Number.NaN, Number.POSITIVE_INFINITY, -0, 0.5),
  fc.constantFrom('250ms', '5s', '1m', '720h', '24d', '25d', '1d', '5 s', '', 'soon', '-1s', '1e3ms'),
)
/** Any value of the wrong type, too. */
const junk = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.string({ maxLength: 10 }),
  fc.bigInt(),
  fc.array(fc.integer(), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.integer(), { maxKeys: 2 }),
  fc.constant(() => undefined),
  fc.constant(Symbol('x')),
)
const count = fc.oneof(fc.integer({ min: -2, max: 20_000 }), fc.double(), fc.constantFrom(2 ** 53, 1e300))
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ arbitrary: arb, weight: 4 }, { arbitrary: junk, weight: 1 })

const queueOptions = fc.record(
  {
    app: maybe(fc.stringMatching(/^[A-Za-z0-9_.-]{1,70}$/)),
    connectTimeout: maybe(duration),
    operationTimeout: maybe(duration),
    heartbeat: maybe(duration),
    publishTimeout: maybe(duration),
    maxDelay: maybe(duration),
    statsInterval: maybe(duration),
    reconnect: maybe(
      fc.record({ initial: duration, max: duration, factor: count, jitter: count }, { requiredKeys: [] }),
    ),
    maxInFlight: maybe(count),
    publishConnections: maybe(count),
    publishChannels: maybe(count),
    maxMessageBytes: maybe(count),
    deliveryLimit: maybe(count),
    buffer: maybe(
      fc.record(
        {
          maxMessages: maybe(count),
          maxBytes: maybe(count),
          whenDisconnected: maybe(fc.constantFrom('wait', 'reject', 'drop')),
        },
        { requiredKeys: [] },
      ),
    ),
    declare: maybe(
      fc.dictionary(
        fc.stringMatching(/^[a-z.]{0,6}$/),
        maybe(fc.array(fc.stringMatching(/^[a-z.]{0,4}$/), { maxLength: 2 })),
        { maxKeys: 2 },
      ),
    ),
    logger: maybe(fc.constant({ warn: (): void => undefined })),
  },
  { requiredKeys: [] },
)

const consumeOptions = fc.record(
  {
    group: maybe(fc.stringMatching(/^[A-Za-z0-9_.-]{0,66}$/)),
    concurrency: maybe(count),
    prefetch: maybe(count),
    attempts: maybe(count),
    backoff: maybe(
      fc.record({ initial: duration, max: duration, factor: count, jitter: count }, { requiredKeys: [] }),
    ),
    handlerTimeout: maybe(duration),
    nonRetryable: maybe(fc.constant(() => false)),
  },
  { requiredKeys: ['group'] },
)

describe('property: any option value is a coded error or a working queue', () => {
  it('createQueue (memory and RabbitMQ, no connection made) and consume', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('memory:', 'amqp://127.0.0.1:1'),
        queueOptions,
        consumeOptions,
        async (url, options, consume) => {
          const created = await settled(() => createQueue({ url, ...(options as object) }))
          if (!created.ok) {
            expect(created.error).toBeInstanceOf(QueueOptionsError)
            return
          }
          const q = created.value
          const T = defineMessage('prop.opts', z.object({ n: z.number() }))
          const consumer = await settled(() => q.consume(T, () => undefined, consume as never))
          if (!consumer.ok) expect(consumer.error).toBeInstanceOf(QueueArgumentError)
          const closed = await settled(async () => q.close({ timeout: 50 }))
          expect(closed).toEqual({ ok: true, value: undefined })
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('property: any payload and publish options are a coded error, or published and handled as JSON carries them', () => {
  const payload = fc.oneof(
    fc.anything({
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withNullPrototype: true,
      withBoxedValues: true,
      stringUnit: 'binary',
      maxDepth: 3,
    }),
    fc.string({ unit: 'binary', maxLength: 1_500 }),
    fc.string({ unit: 'grapheme', minLength: 300, maxLength: 1_500 }),
    fc.constantFrom(undefined, Number.NaN, Number.POSITIVE_INFINITY, -0, () => 1, Symbol('s')),
  )
  const publishOptions = fc.option(
    fc.record(
      {
        delay: maybe(fc.oneof(fc.integer({ min: 0, max: 150 }), duration)),
        messageId: maybe(fc.string({ unit: 'binary', minLength: 0, maxLength: 260 })),
        correlationId: maybe(fc.string({ unit: 'binary', maxLength: 260 })),
        traceparent: maybe(fc.constantFrom('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', 'x')),
      },
      { requiredKeys: [] },
    ),
    { nil: undefined, freq: 2 },
  )

  it('publish → handler, on the memory transport', async () => {
    const Any = defineMessage('prop.any', z.unknown())
    const q: Queue = createQueue({
      url: 'memory:',
      app: 'prop_payloads',
      maxMessageBytes: 1_024,
      maxDelay: 200,
    })
    const handled = new Map<string, unknown[]>()
    q.consume(
      Any,
      (value, ctx: MessageContext) => {
        const seen = handled.get(ctx.messageId) ?? []
        seen.push(value)
        handled.set(ctx.messageId, seen)
      },
      { group: 'g', concurrency: 16, backoff: { initial: 50, max: 100 } },
    )
    const expected = new Map<string, unknown>()
    await fc.assert(
      fc.asyncProperty(payload, publishOptions, async (value, options) => {
        const result = await settled(async () => q.publish(Any, value, options as never))
        if (!result.ok) {
          expect(result.error).toBeInstanceOf(QueueError)
          expect(result.error).not.toBeInstanceOf(TypeError)
          expect((result.error as QueueError).code).toMatch(
            /^ERR_QUEUE_(UNENCODABLE|MESSAGE_TOO_LARGE|INVALID_ARGUMENT|INVALID_PAYLOAD)$/,
          )
          return
        }
        // What the handler must get: what JSON carries of the value.
        expected.set(result.value.messageId, JSON.parse(JSON.stringify(value)) as unknown)
      }),
      { numRuns: 500 },
    )
    // Nothing accepted is lost: every confirmed publish reaches the handler, as JSON decoded it (ids given twice: each copy).
    await waitFor(() => [...expected.keys()].every((id) => handled.has(id)), {
      timeout: 10_000,
      message: 'every accepted publish handled',
    })
    for (const [id, value] of expected) expect(handled.get(id)?.[0]).toEqual(value)
    await q.close()
  })
})
