import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { sleep, waitFor } from '@scalekit/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import {
  NonRetryableError,
  createMemoryDedupStore,
  defineMessage,
  getContext,
  runWithContext,
} from '../../src/index'
import type {
  Handler,
  MessageContext,
  Queue,
  QueueConsumeContext,
  QueueDeadLetterEvent,
  QueueOptions,
} from '../../src/index'

/** What a transport factory hands the suite: a fresh queue per call, sharing one app (broker namespace) per test. */
export interface SuiteTarget {
  /** A queue on the test's app; call it twice for two instances of one service. */
  create(options?: Partial<QueueOptions>): Queue
  /** Deletes what the test declared. */
  cleanup(types: string[], groups: string[]): Promise<void>
}

/** What the suite's queues reported through their `logger` (one array per process; reset after each test). */
const warnings: { obj: Record<string, unknown>; msg: string | undefined }[] = []
const logger = {
  warn: (obj: object, msg?: string): void => void warnings.push({ obj: obj as Record<string, unknown>, msg }),
}

/** Options every suite queue uses: short delays and timeouts for tests, a recording logger. */
const fast = { publishTimeout: 10_000, logger } as const
const backoff = { initial: 100, factor: 2, max: 2_000, jitter: 0 }

/**
 * The behaviour both transports must share: routing (groups), retries with growing delays,
 * dead-letters with reasons, validation, timeouts, delays, unroutable errors, context, dedup and drain.
 */
export function behaviourSuite(name: string, makeTarget: () => SuiteTarget): void {
  describe(`queue behaviour (${name})`, () => {
    const queues: Queue[] = []
    let target: SuiteTarget
    let types: string[] = []
    let groups: string[] = []
    const deadLetters: QueueDeadLetterEvent[] = []
    const onDeadLetter = (message: unknown): void => {
      deadLetters.push(message as QueueDeadLetterEvent)
    }

    const queue = (options?: Partial<QueueOptions>): Queue => {
      const q = target.create({ ...fast, ...options })
      queues.push(q)
      return q
    }
    const type = <S extends z.ZodType>(label: string, schema: S) => {
      const t = defineMessage(`${label}.${Math.random().toString(36).slice(2, 8)}`, schema)
      types.push(t.name)
      return t
    }
    const group = (label: string): string => {
      groups.push(label)
      return label
    }
    const order = z.object({ orderId: z.number().int() })

    beforeEachTest()
    function beforeEachTest(): void {
      afterEach(async () => {
        unsubscribe('scalekit:queue:dead-letter', onDeadLetter)
        await Promise.all(queues.splice(0).map(async (q) => q.close({ timeout: 5_000 })))
        await target.cleanup(types, groups)
        types = []
        groups = []
        deadLetters.length = 0
        warnings.length = 0
      })
    }
    const start = (): void => {
      target = makeTarget()
      subscribe('scalekit:queue:dead-letter', onDeadLetter)
    }

    it('gives every group its own copy and shares a group between its instances', async () => {
      start()
      const T = type('order.placed', order)
      const a = queue()
      const b = queue()
      const billing: [string, number][] = []
      const email: number[] = []
      const consumers = [
        a.consume(T, (m) => void billing.push(['a', m.orderId]), { group: group('billing') }),
        b.consume(T, (m) => void billing.push(['b', m.orderId]), { group: 'billing' }),
        a.consume(T, (m) => void email.push(m.orderId), { group: group('email') }),
      ]
      await Promise.all(consumers.map(async (c) => c.ready))
      for (let i = 0; i < 20; i++) await a.publish(T, { orderId: i })
      await waitFor(() => billing.length === 20 && email.length === 20, {
        timeout: 10_000,
        message: 'all handled',
      })
      await sleep(200)
      expect(billing.map(([, id]) => id).sort((x, y) => x - y)).toEqual([...Array(20).keys()])
      expect(email.sort((x, y) => x - y)).toEqual([...Array(20).keys()])
      expect(new Set(billing.map(([who]) => who))).toEqual(new Set(['a', 'b']))
      expect(a.health().status).toBe('ok')
      expect(a.health().consumers.every((c) => c.attached)).toBe(true)
    })

    it('acknowledges a handler that returns nothing or a promise once, on its first attempt', async () => {
      start()
      const T = type('settled', order)
      const q = queue()
      const calls: string[] = []
      const record = (name: string, ctx: MessageContext): number =>
        calls.push(ctx.attempt === 1 ? name : `${name} retried`)
      const handlers: Record<string, Handler<unknown>> = {
        sync: (_m, ctx) => void record('sync', ctx),
        async: async (_m, ctx) => {
          await sleep(5)
          record('async', ctx)
        },
      }
      const consumers = Object.entries(handlers).map(([name, handler]) =>
        q.consume(T, handler, { group: group(name), attempts: 5, backoff }),
      )
      await Promise.all(consumers.map(async (c) => c.ready))
      await q.publish(T, { orderId: 1 })
      await waitFor(() => calls.length >= 2, { timeout: 10_000, message: 'handled by both' })
      // Longer than the first retry delay: a handler taken for failed would have run again.
      await sleep(400)
      expect(calls.sort()).toEqual(['async', 'sync'])
    })

    it('retries a failing handler with growing delays until it succeeds', async () => {
      start()
      const T = type('flaky', order)
      const q = queue()
      const seen: { attempt: number; at: number }[] = []
      const c = q.consume(
        T,
        (_m, ctx) => {
          seen.push({ attempt: ctx.attempt, at: Date.now() })
          if (ctx.attempt <= 3) throw new Error(`fail ${ctx.attempt}`)
        },
        { group: group('g'), attempts: 5, backoff },
      )
      await c.ready
      await q.publish(T, { orderId: 1 })
      await waitFor(() => seen.length === 4, { timeout: 15_000, message: '4 attempts' })
      await sleep(300)
      expect(seen.map((s) => s.attempt)).toEqual([1, 2, 3, 4])
      const gaps = seen.slice(1).map((s, i) => s.at - (seen[i]?.at ?? 0))
      // 100, 200, 400 ms backoff (no jitter); timers may fire a few ms early, never much.
      expect(gaps[0]).toBeGreaterThanOrEqual(90)
      expect(gaps[1]).toBeGreaterThanOrEqual(190)
      expect(gaps[2]).toBeGreaterThanOrEqual(390)
      expect(deadLetters).toEqual([])
    })

    it('dead-letters after the last attempt with the reason and attempt count', async () => {
      start()
      const T = type('poison', order)
      const q = queue()
      let calls = 0
      const c = q.consume(
        T,
        () => {
          calls += 1
          throw new Error('always broken')
        },
        { group: group('g'), attempts: 3, backoff },
      )
      await c.ready
      const { messageId } = await q.publish(T, { orderId: 7 })
      await waitFor(() => deadLetters.length === 1, { timeout: 15_000, message: 'dead-lettered' })
      await sleep(300)
      expect(calls).toBe(3)
      expect(deadLetters).toEqual([
        { type: T.name, group: 'g', messageId, reason: 'failed', attempts: 3, error: 'always broken' },
      ])
      // The dead letter can be read back (and is removed by the reading), the same way on every transport.
      const taken = await q.takeDeadLetters('g')
      expect(taken).toEqual([
        expect.objectContaining({
          messageId,
          type: T.name,
          group: 'g',
          reason: 'failed',
          attempts: 3,
          error: 'always broken',
          payload: { orderId: 7 },
        }),
      ])
      expect(taken[0]?.publishedAt).toBeInstanceOf(Date)
      expect(await q.takeDeadLetters('g')).toEqual([])
      // Not silent: the logger heard of the failures and of the dead letter, once per episode, never the payload.
      const episodes = warnings.map((w) => w.obj.episode)
      expect(episodes.filter((e) => e === `handler-failed:g:${T.name}`)).toHaveLength(1)
      expect(episodes.filter((e) => e === `dead-letter:g:${T.name}`)).toHaveLength(1)
      expect(warnings.find((w) => w.obj.episode === `handler-failed:g:${T.name}`)?.obj).toMatchObject({
        package: '@scalekit/queue',
        code: 'Error',
        type: T.name,
        group: 'g',
      })
      expect(warnings.find((w) => w.obj.episode === `dead-letter:g:${T.name}`)?.obj).toMatchObject({
        reason: 'failed',
        attempts: 3,
      })
      expect(JSON.stringify(warnings)).not.toMatch(/orderId|always broken/)
    })

    it('validates a payload as the consumer will decode it (JSON), and refuses what JSON cannot carry', async () => {
      start()
      const T = type('json', z.object({ at: z.date(), tags: z.set(z.string()) }))
      const Any = type('json-any', z.unknown())
      const q = queue()
      let calls = 0
      await q.consume(T, () => void (calls += 1), { group: group('g') }).ready
      await q.consume(Any, () => void (calls += 1), { group: 'g' }).ready
      // The object passes z.date() and z.set(), the JSON the consumer parses would not: refused here.
      const invalid = await q.publish(T, { at: new Date(), tags: new Set(['a']) }).catch((e: unknown) => e)
      expect(invalid).toMatchObject({ code: 'ERR_QUEUE_INVALID_PAYLOAD' })
      expect((invalid as Error).message).toMatch(/as the consumer will decode it/)
      const cycle: Record<string, unknown> = {}
      cycle.self = cycle
      for (const payload of [10n, { n: 1n }, cycle, undefined, () => 1, Symbol('s')]) {
        const error = await q.publish(Any, payload).catch((e: unknown) => e)
        expect(error).toMatchObject({ code: 'ERR_QUEUE_UNENCODABLE' })
        expect(error).toBeInstanceOf(Error)
        expect(error).not.toBeInstanceOf(TypeError)
      }
      await sleep(200)
      expect(calls).toBe(0)
      expect(deadLetters).toEqual([])
    })

    it('holds messages for groups a producer declares before any of their consumers ran (deploy order does not matter)', async () => {
      start()
      const T = type('declared', order)
      const g = group('late')
      const producer = queue({ declare: { [T.name]: [g] } })
      const receipts = await Promise.all([1, 2, 3].map(async (orderId) => producer.publish(T, { orderId })))
      expect(receipts).toHaveLength(3)
      const got: number[] = []
      await queue().consume(T, (m) => void got.push(m.orderId), { group: g }).ready
      await waitFor(() => got.length === 3, { timeout: 10_000, message: 'the 3 early messages' })
      expect(got.sort()).toEqual([1, 2, 3])
    })

    it('dead-letters a non-retryable error at once', async () => {
      start()
      const T = type('refused', order)
      const q = queue()
      let calls = 0
      const c = q.consume(
        T,
        () => {
          calls += 1
          throw new NonRetryableError('card refused')
        },
        { group: group('g'), attempts: 5, backoff },
      )
      await c.ready
      await q.publish(T, { orderId: 1 })
      await waitFor(() => deadLetters.length === 1, { timeout: 10_000, message: 'dead-lettered' })
      expect(calls).toBe(1)
      expect(deadLetters[0]).toMatchObject({ reason: 'non-retryable', attempts: 1, error: 'card refused' })
    })

    it('dead-letters an invalid payload without calling the handler', async () => {
      start()
      const strict = type('strict', order)
      const loose = defineMessage(strict.name, z.unknown())
      const q = queue()
      let calls = 0
      const c = q.consume(strict, () => void (calls += 1), { group: group('g') })
      await c.ready
      await q.publish(loose, { orderId: 'not a number' })
      await waitFor(() => deadLetters.length === 1, { timeout: 10_000, message: 'dead-lettered' })
      await sleep(200)
      expect(calls).toBe(0)
      expect(deadLetters[0]).toMatchObject({ reason: 'invalid', attempts: 1 })
    })

    it('times out a slow handler and retries it', async () => {
      start()
      const T = type('slow', order)
      const q = queue()
      const attempts: number[] = []
      let aborted = false
      const c = q.consume(
        T,
        async (_m, ctx) => {
          attempts.push(ctx.attempt)
          if (ctx.attempt === 1) {
            await new Promise<void>((resolve) => {
              ctx.signal.addEventListener(
                'abort',
                () => {
                  resolve()
                },
                { once: true },
              )
            })
            aborted = true
          }
        },
        { group: group('g'), handlerTimeout: 200, backoff },
      )
      await c.ready
      await q.publish(T, { orderId: 1 })
      await waitFor(() => attempts.length === 2, { timeout: 10_000, message: 'retried after timeout' })
      expect(aborted).toBe(true)
      expect(attempts).toEqual([1, 2])
    })

    it('delivers a delayed message no sooner than its delay', async () => {
      start()
      const T = type('later', order)
      const q = queue()
      const got: number[] = []
      const c = q.consume(T, () => void got.push(Date.now()), { group: group('g') })
      await c.ready
      const sent = Date.now()
      await q.publish(T, { orderId: 1 }, { delay: 700 })
      await waitFor(() => got.length === 1, { timeout: 10_000, message: 'delayed delivery' })
      expect((got[0] ?? 0) - sent).toBeGreaterThanOrEqual(690)
    })

    it('rejects an unroutable publish with ERR_QUEUE_UNROUTABLE', async () => {
      start()
      const T = type('nobody', order)
      const q = queue()
      await expect(q.publish(T, { orderId: 1 })).rejects.toMatchObject({ code: 'ERR_QUEUE_UNROUTABLE' })
    })

    it('carries the correlation id and trace into the handler context', async () => {
      start()
      const T = type('traced', order)
      const q = queue()
      let seen: { correlationId?: string | undefined; traceparent?: string | undefined } | undefined
      const c = q.consume(T, () => void (seen = getContext()), { group: group('g') })
      await c.ready
      const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
      await runWithContext({ correlationId: 'req-42', traceparent: parent }, async () =>
        q.publish(T, { orderId: 1 }),
      )
      await waitFor(() => seen, { timeout: 10_000, message: 'handled' })
      expect(seen?.correlationId).toBe('req-42')
      expect(seen?.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/)
      expect(seen?.traceparent).not.toBe(parent)
    })

    it("without a context, every group joins the message's own trace, correlated by its id, timed from its publish", async () => {
      start()
      const T = type('untraced', order)
      const q = queue()
      const seen: {
        group: string
        correlationId: string
        traceparent: string
        messageId: string
        publishedAt: number
      }[] = []
      const spread: Record<string, unknown>[] = []
      const consumer = (g: string) =>
        q.consume(
          T,
          (_m, ctx) => {
            seen.push({
              group: g,
              correlationId: getContext()?.correlationId ?? '',
              traceparent: ctx.traceparent,
              messageId: ctx.messageId,
              publishedAt: ctx.publishedAt.getTime(),
            })
            // What a logger does with them: copies survive.
            spread.push({ ...ctx }, { ...getContext() })
          },
          { group: group(g) },
        )
      await Promise.all([consumer('a').ready, consumer('b').ready])
      const before = Date.now()
      const { messageId } = await q.publish(T, { orderId: 1 })
      await waitFor(() => seen.length === 2, { timeout: 10_000, message: 'handled by both groups' })
      expect(messageId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      for (const s of seen) {
        expect(s.messageId).toBe(messageId)
        expect(s.correlationId).toBe(messageId)
        expect(s.traceparent).toMatch(new RegExp(`^00-${messageId.replaceAll('-', '')}-[0-9a-f]{16}-01$`))
        expect(s.publishedAt).toBeGreaterThanOrEqual(before)
        expect(s.publishedAt).toBeLessThanOrEqual(Date.now())
      }
      expect(seen[0]?.traceparent).not.toBe(seen[1]?.traceparent)
      for (const copy of spread)
        expect(copy).toMatchObject({
          correlationId: messageId,
          traceparent: expect.stringMatching(/^00-/) as string,
        })
      expect(spread[0]).toMatchObject({
        messageId,
        attempt: 1,
        redelivered: false,
        publishedAt: expect.any(Date) as Date,
      })
    })

    it('runs a message once per id with a dedup store', async () => {
      start()
      const T = type('once', order)
      const q = queue()
      const handled: string[] = []
      const c = q.consume(T, (_m, ctx) => void handled.push(ctx.messageId), {
        group: group('g'),
        dedup: createMemoryDedupStore(),
      })
      await c.ready
      await q.publish(T, { orderId: 1 }, { messageId: 'm-1' })
      await q.publish(T, { orderId: 1 }, { messageId: 'm-1' })
      await q.publish(T, { orderId: 2 }, { messageId: 'm-2' })
      await waitFor(() => handled.length === 2, { timeout: 10_000, message: 'handled' })
      await sleep(300)
      expect(handled.sort()).toEqual(['m-1', 'm-2'])
    })

    it('keys a shared dedup store by group, type and id: the same id is new to every other (group, type)', async () => {
      start()
      const Placed = type('order.placed', order)
      const Paid = type('order.paid', order)
      const q = queue()
      const dedup = createMemoryDedupStore()
      const handled: string[] = []
      const settled: QueueConsumeContext[] = []
      const onConsume = (message: unknown): void => {
        const ctx = message as QueueConsumeContext
        if (ctx.type === Placed.name || ctx.type === Paid.name) settled.push(ctx)
      }
      subscribe('tracing:scalekit:queue:consume:asyncEnd', onConsume)
      try {
        const consumers = [
          q.consume(Placed, () => void handled.push('billing/placed'), { group: group('billing'), dedup }),
          q.consume(Placed, () => void handled.push('shipping/placed'), { group: group('shipping'), dedup }),
          q.consume(Paid, () => void handled.push('billing/paid'), { group: 'billing', dedup }),
        ]
        await Promise.all(consumers.map(async (c) => c.ready))
        await q.publish(Placed, { orderId: 1 }, { messageId: 'order-1' })
        await q.publish(Paid, { orderId: 1 }, { messageId: 'order-1' })
        await waitFor(() => settled.length === 3, { timeout: 10_000, message: 'first round settled' })
        expect(settled.map((c) => c.outcome)).toEqual(['ack', 'ack', 'ack'])
        expect(handled.sort()).toEqual(['billing/paid', 'billing/placed', 'shipping/placed'])
        // Within one (group, type) the id is still a duplicate.
        await q.publish(Placed, { orderId: 1 }, { messageId: 'order-1' })
        await q.publish(Paid, { orderId: 1 }, { messageId: 'order-1' })
        await waitFor(() => settled.length === 6, { timeout: 10_000, message: 'second round settled' })
        expect(settled.slice(3).map((c) => c.outcome)).toEqual(['duplicate', 'duplicate', 'duplicate'])
        expect(handled).toHaveLength(3)
      } finally {
        unsubscribe('tracing:scalekit:queue:consume:asyncEnd', onConsume)
      }
    })

    it('runs at most `concurrency` handlers at once', async () => {
      start()
      const T = type('parallel', order)
      const q = queue()
      let running = 0
      let peak = 0
      let done = 0
      const c = q.consume(
        T,
        async () => {
          running += 1
          peak = Math.max(peak, running)
          await sleep(50)
          running -= 1
          done += 1
        },
        { group: group('g'), concurrency: 3 },
      )
      await c.ready
      await Promise.all([...Array(12).keys()].map(async (i) => q.publish(T, { orderId: i })))
      await waitFor(() => done === 12, { timeout: 10_000, message: 'all handled' })
      expect(peak).toBe(3)
    })

    it('close() aborts a handler that outlives its timeout and returns its message to the group', async () => {
      start()
      const T = type('stuck', order)
      const a = queue()
      const b = queue()
      let aborted = false
      const second: { redelivered: boolean; attempt: number }[] = []
      await a.consume(
        T,
        async (_m, ctx) => {
          await new Promise<void>((resolve) => {
            ctx.signal.addEventListener(
              'abort',
              () => {
                aborted = true
                resolve()
              },
              { once: true },
            )
          })
        },
        { group: group('g') },
      ).ready
      await a.publish(T, { orderId: 1 })
      await waitFor(() => a.health().consumers[0]?.active === 1, {
        timeout: 10_000,
        message: 'handler running',
      })
      await a.close({ timeout: 200 })
      expect(aborted).toBe(true)
      await b.consume(
        T,
        (_m, ctx) => void second.push({ redelivered: ctx.redelivered, attempt: ctx.attempt }),
        { group: 'g' },
      ).ready
      await waitFor(() => second.length === 1, {
        timeout: 10_000,
        message: 'redelivered to the other instance',
      })
      expect(second).toEqual([{ redelivered: true, attempt: 1 }])
    })

    it('close() lets running handlers finish, then refuses new work', async () => {
      start()
      const T = type('drain', order)
      const q = queue()
      let started = 0
      let finished = 0
      const c = q.consume(
        T,
        async () => {
          started += 1
          await sleep(300)
          finished += 1
        },
        { group: group('g'), concurrency: 2 },
      )
      await c.ready
      await q.publish(T, { orderId: 1 })
      await q.publish(T, { orderId: 2 })
      await waitFor(() => started === 2, { timeout: 10_000, message: 'both started' })
      await q.close()
      expect(finished).toBe(2)
      await expect(q.publish(T, { orderId: 3 })).rejects.toMatchObject({ code: 'ERR_QUEUE_CLOSED' })
      expect(() => q.consume(T, () => undefined, { group: 'g' })).toThrow(
        expect.objectContaining({ code: 'ERR_QUEUE_CLOSED' }) as Error,
      )
    })
  })
}
