/**
 * The contenders of the queue throughput scenarios, each publishing ~80-byte JSON messages with
 * confirms to a quorum queue of its own on the shared broker, and consuming them with a no-op.
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { connect as connectManager } from 'amqp-connection-manager'
import type { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager'
import { connect } from 'amqplib'
import type { ChannelModel, ConfirmChannel, Channel } from 'amqplib'
import { Connection as RmqClient } from 'rabbitmq-client'
import rascal from 'rascal'
import type { BrokerAsPromised, RascalSubscription } from 'rascal'
import { z } from 'zod'
import * as workspace from '@scalekit/queue'
import type { Queue } from '@scalekit/queue'
import type { Contender, Sample } from '../harness'
import { QUORUM, TEXT, payload, scalekitNames } from './context'
import type { Admin, QueueBenchContext } from './context'

/** The raw floor's window of unconfirmed messages (the issue's floor). */
export const FLOOR_WINDOW = 256
/** Publishes the app offers at once to the libraries that take promises (their windows are theirs to bound). */
export const OFFERED = 1024
/** Prefetch of every consumer. */
export const PREFETCH = 256

export interface QueueSubject extends Contender {
  readonly name: string
  readonly floor?: boolean
  /** How it is set up, for the README and the results file. */
  readonly setup: string
  /** Publishes for about `durationMs` (or `count` messages), each awaited until confirmed. */
  publish(opts: { durationMs?: number; count?: number }): Promise<Sample>
  /** Attaches a no-op consumer that calls `onMessage` per message; resolves with its stop. */
  consume(onMessage: () => void): Promise<() => Promise<void>>
  /** Empties its queue. */
  purge(): Promise<void>
  close(): Promise<void>
}

/** One publish: call `done` once confirmed (or with the error). */
type Send = (i: number, done: (error?: unknown) => void) => void

/**
 * Keeps `window` publishes outstanding until `durationMs` has passed or `count` were sent, then
 * waits for the last confirms. Times each publish from send to confirm.
 */
export async function pump(
  send: Send,
  window: number,
  opts: { durationMs?: number; count?: number },
): Promise<Sample> {
  const latencies: number[] = []
  const start = performance.now()
  const end = opts.durationMs === undefined ? Infinity : start + opts.durationMs
  const count = opts.count ?? Infinity
  let sent = 0
  let confirmed = 0
  let outstanding = 0
  let failure: unknown
  await new Promise<void>((resolve, reject) => {
    const fill = (): void => {
      while (outstanding < window && sent < count && failure === undefined) {
        if (performance.now() >= end) break
        const t0 = performance.now()
        const i = sent++
        outstanding++
        send(i, (error) => {
          outstanding--
          if (error !== undefined && error !== null) {
            failure ??= error
            reject(error instanceof Error ? error : new Error('publish failed'))
            return
          }
          confirmed++
          latencies.push((performance.now() - t0) * 1000)
          if (outstanding === 0 && (sent >= count || performance.now() >= end)) resolve()
          else fill()
        })
      }
    }
    fill()
  })
  const elapsed = performance.now() - start
  latencies.sort((a, b) => a - b)
  const pct = (p: number): number =>
    latencies[Math.min(latencies.length - 1, Math.max(0, Math.ceil((p / 100) * latencies.length) - 1))] ??
    Number.NaN
  return { opsPerSec: (confirmed / elapsed) * 1000, p50Us: pct(50), p99Us: pct(99), ops: confirmed }
}

const fromPromise =
  (publish: (i: number) => Promise<unknown>): Send =>
  (i, done) => {
    publish(i).then(
      () => {
        done()
      },
      (error: unknown) => {
        done(error ?? new Error('publish failed'))
      },
    )
  }

const body = (i: number): Buffer => Buffer.from(JSON.stringify(payload(i)))

/** Declares the peers' exchange and a quorum queue bound to it by `key`. */
async function declareQueue(
  ctx: QueueBenchContext,
  admin: Admin,
  exchange: string,
  key: string,
): Promise<string> {
  const queue = `${exchange}.${key}`
  await admin.ch.assertExchange(exchange, 'topic', { durable: true })
  ctx.created.exchanges.add(exchange)
  await admin.ch.assertQueue(queue, { durable: true, arguments: QUORUM })
  ctx.created.queues.add(queue)
  await admin.ch.bindQueue(queue, exchange, key)
  return queue
}

/**
 * Raw amqplib: a confirm channel with a window of 256 unconfirmed messages, and a prefetch-256
 * consumer acking each message (the floor). With `channels` > 1, a reference (not the floor): that
 * many confirm channels on the connection, taking turns, 256 unconfirmed on each.
 */
async function rawAmqplib(
  ctx: QueueBenchContext,
  admin: Admin,
  exchange: string,
  channels = 1,
): Promise<QueueSubject> {
  const key = channels === 1 ? 'raw' : `raw${channels}`
  const queue = await declareQueue(ctx, admin, exchange, key)
  const connection: ChannelModel = await connect(ctx.url)
  connection.on('error', () => undefined)
  const confirms: ConfirmChannel[] = []
  for (let c = 0; c < channels; c++) confirms.push(await connection.createConfirmChannel())
  const send: Send = (i, done) => {
    const confirm = confirms[i % channels]!
    confirm.publish(
      exchange,
      key,
      body(i),
      { persistent: true, mandatory: true, messageId: randomUUID(), contentType: 'application/json' },
      (err: unknown) => {
        done(err ?? undefined)
      },
    )
  }
  return {
    name:
      channels === 1
        ? `raw amqplib (confirm channel, window ${FLOOR_WINDOW})`
        : `raw amqplib (${channels} confirm channels, window ${FLOOR_WINDOW} each)`,
    floor: channels === 1,
    setup: `amqplib 2.3.1 ConfirmChannel.publish(persistent, mandatory, messageId) with a callback, ${channels === 1 ? `at most ${FLOOR_WINDOW} unconfirmed` : `${channels} confirm channels on one connection in turn, at most ${FLOOR_WINDOW} unconfirmed on each`}; consumer: prefetch ${PREFETCH}, ch.ack(msg) per message`,
    publish: async (opts) => pump(send, FLOOR_WINDOW * channels, opts),
    consume: async (onMessage) => {
      const ch: Channel = await connection.createChannel()
      await ch.prefetch(PREFETCH)
      await ch.consume(queue, (msg) => {
        if (msg === null) return
        ch.ack(msg)
        onMessage()
      })
      return async () => {
        await ch.close()
      }
    },
    purge: async () => {
      await admin.ch.purgeQueue(queue)
    },
    close: async () => {
      await connection.close().catch(() => undefined)
    },
  }
}

/** The package's API, from the workspace build or another build (`SK_QUEUE_BEFORE`). */
type QueueModule = Pick<typeof workspace, 'createQueue' | 'defineMessage'>

/** @scalekit/queue with its defaults, except the consumer's prefetch and concurrency (and `maxInFlight` if given). */
async function scalekit(
  ctx: QueueBenchContext,
  admin: Admin,
  variant: { name: string; suffix: string; module?: QueueModule; maxInFlight?: number },
): Promise<QueueSubject> {
  const { createQueue, defineMessage } = variant.module ?? workspace
  const app = `${ctx.runId}_${variant.suffix}`
  const names = scalekitNames(app, ['bench.item'], ['bench'])
  for (const q of names.queues) ctx.created.queues.add(q)
  for (const e of names.exchanges) ctx.created.exchanges.add(e)
  const Item = defineMessage('bench.item', z.object({ i: z.number(), text: z.string() }))
  const queue: Queue = createQueue({
    url: ctx.url,
    app,
    ...(variant.maxInFlight === undefined ? {} : { maxInFlight: variant.maxInFlight }),
  })
  // Declare the group's queue (publishes are unroutable without one), then detach.
  const probe = queue.consume(Item, () => undefined, { group: 'bench' })
  await probe.ready
  await probe.close()
  const groupQueue = `${app}.bench.bench.item`
  return {
    name: variant.name,
    setup: `createQueue({ url, app${variant.maxInFlight === undefined ? '' : `, maxInFlight: ${variant.maxInFlight}`} }), other options default (maxInFlight ${workspace.defaults.maxInFlight}, publishConnections ${workspace.defaults.publishConnections} × publishChannels ${workspace.defaults.publishChannels}, buffer ${workspace.defaults.buffer.maxMessages}); ${OFFERED} publish() calls outstanding; zod schema; consumer: concurrency ${PREFETCH}, prefetch ${PREFETCH}`,
    publish: async (opts) =>
      pump(
        fromPromise(async (i) => queue.publish(Item, { i, text: TEXT })),
        OFFERED,
        opts,
      ),
    consume: async (onMessage) => {
      const c = queue.consume(
        Item,
        () => {
          onMessage()
        },
        { group: 'bench', concurrency: PREFETCH, prefetch: PREFETCH },
      )
      await c.ready
      return async () => {
        await c.close()
      }
    },
    purge: async () => {
      await admin.ch.purgeQueue(groupQueue)
    },
    close: async () => {
      await queue.close()
    },
  }
}

/** amqp-connection-manager 5: a confirm ChannelWrapper (publish resolves on the confirm); a consumer with prefetch 256. */
async function amqpConnectionManager(
  ctx: QueueBenchContext,
  admin: Admin,
  exchange: string,
): Promise<QueueSubject> {
  const queue = await declareQueue(ctx, admin, exchange, 'acm')
  const manager: AmqpConnectionManager = connectManager([ctx.url])
  manager.on('connectFailed', () => undefined)
  const publisher: ChannelWrapper = manager.createChannel({ confirm: true, json: false })
  await publisher.waitForConnect()
  return {
    name: 'amqp-connection-manager',
    setup: `amqp-connection-manager 5.0.0 createChannel({ confirm: true }).publish(persistent, mandatory, messageId) (resolves on confirm), ${OFFERED} outstanding; consumer: a channel wrapper's consume(prefetch ${PREFETCH}), ack per message`,
    publish: async (opts) =>
      pump(
        fromPromise(async (i) =>
          publisher.publish(exchange, 'acm', body(i), {
            persistent: true,
            mandatory: true,
            messageId: randomUUID(),
            contentType: 'application/json',
          }),
        ),
        OFFERED,
        opts,
      ),
    consume: async (onMessage) => {
      const ch: ChannelWrapper = manager.createChannel({ confirm: false })
      await ch.waitForConnect()
      await ch.consume(
        queue,
        (msg) => {
          ch.ack(msg)
          onMessage()
        },
        { prefetch: PREFETCH },
      )
      return async () => {
        await ch.close()
      }
    },
    purge: async () => {
      await admin.ch.purgeQueue(queue)
    },
    close: async () => {
      await publisher.close().catch(() => undefined)
      await manager.close().catch(() => undefined)
    },
  }
}

/** rascal 21: a confirming publication (persistent, mandatory: its defaults) and a subscription with prefetch 256. */
async function rascalSubject(ctx: QueueBenchContext, admin: Admin, exchange: string): Promise<QueueSubject> {
  const queue = await declareQueue(ctx, admin, exchange, 'rascal')
  const config = rascal.withDefaultConfig({
    vhosts: {
      '/': {
        connection: { url: ctx.url },
        exchanges: { [exchange]: { assert: false, check: false } },
        queues: { [queue]: { assert: false, check: false } },
        publications: {
          pub: {
            exchange,
            routingKey: 'rascal',
            confirm: true,
            options: { persistent: true, mandatory: true },
          },
        },
        subscriptions: { sub: { queue, prefetch: PREFETCH } },
      },
    },
  })
  const broker: BrokerAsPromised = await rascal.BrokerAsPromised.create(config)
  broker.on('error', () => undefined)
  const publish = async (i: number): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      broker.publish('pub', payload(i)).then((publication) => {
        publication.on('success', () => {
          resolve()
        })
        publication.on('error', reject)
        publication.on('return', () => {
          reject(new Error('returned'))
        })
      }, reject)
    })
  return {
    name: 'rascal',
    setup: `rascal 21.0.1 publication { confirm: true, persistent, mandatory } (publish an object, await 'success'), ${OFFERED} outstanding; subscription: prefetch ${PREFETCH}, ackOrNack() per message`,
    publish: async (opts) => pump(fromPromise(publish), OFFERED, opts),
    consume: async (onMessage) => {
      const sub: RascalSubscription = await broker.subscribe('sub')
      sub.on('error', () => undefined)
      sub.on('message', (_msg: unknown, _content: unknown, ackOrNack: () => void) => {
        ackOrNack()
        onMessage()
      })
      return async () => {
        await sub.cancel()
      }
    },
    purge: async () => {
      await admin.ch.purgeQueue(queue)
    },
    close: async () => {
      await broker.shutdown().catch(() => undefined)
    },
  }
}

/** rabbitmq-client 5: a publisher with confirms, and a consumer with prefetch 256 (acks when the handler resolves). */
async function rabbitmqClient(ctx: QueueBenchContext, admin: Admin, exchange: string): Promise<QueueSubject> {
  const queue = await declareQueue(ctx, admin, exchange, 'rmqc')
  const rabbit = new RmqClient(ctx.url)
  rabbit.on('error', () => undefined)
  const publisher = rabbit.createPublisher({ confirm: true, maxAttempts: 1 })
  await publisher.send({ exchange, routingKey: 'rmqc', durable: true, mandatory: true }, payload(-1))
  return {
    name: 'rabbitmq-client',
    setup: `rabbitmq-client 5.0.8 createPublisher({ confirm: true }).send({ durable, mandatory, messageId }, object), ${OFFERED} outstanding; createConsumer({ qos: { prefetchCount: ${PREFETCH} } }) with an async no-op`,
    publish: async (opts) =>
      pump(
        fromPromise(async (i) =>
          publisher.send(
            { exchange, routingKey: 'rmqc', durable: true, mandatory: true, messageId: randomUUID() },
            payload(i),
          ),
        ),
        OFFERED,
        opts,
      ),
    consume: async (onMessage) => {
      // An async handler: rabbitmq-client acknowledges when its promise resolves.
      const sub = rabbit.createConsumer(
        { queue, queueOptions: { queue, passive: true }, qos: { prefetchCount: PREFETCH } },
        () => {
          onMessage()
          return Promise.resolve()
        },
      )
      sub.on('error', () => undefined)
      await new Promise<void>((resolve) =>
        sub.once('ready', () => {
          resolve()
        }),
      )
      return async () => {
        await sub.close()
      }
    },
    purge: async () => {
      await admin.ch.purgeQueue(queue)
    },
    close: async () => {
      await publisher.close().catch(() => undefined)
      await rabbit.close().catch(() => undefined)
    },
  }
}

/** Every contender, the floor first. */
export async function createSubjects(ctx: QueueBenchContext, admin: Admin): Promise<QueueSubject[]> {
  const exchange = `${ctx.runId}_peers`
  // Optional extra contenders: another build of the package (a path to its ESM bundle), for a
  // before/after in one run; and the package with a larger confirm window.
  const before = process.env.SK_QUEUE_BEFORE
  const windows = (process.env.SK_QUEUE_WINDOW ?? '')
    .split(',')
    .map(Number)
    .filter((w) => w > 0)
  const rawChannels = (process.env.SK_QUEUE_RAW_CHANNELS ?? '2')
    .split(',')
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 1)
  return [
    await rawAmqplib(ctx, admin, exchange),
    // What raw amqplib reaches on several confirm channels (references; default: two, the
    // package's default). SK_QUEUE_RAW_CHANNELS=2,4 adds more.
    ...(await Promise.all(rawChannels.map(async (n) => rawAmqplib(ctx, admin, exchange, n)))),
    await scalekit(ctx, admin, { name: '@scalekit/queue', suffix: 'sk' }),
    ...(await Promise.all(
      windows.map(async (w) =>
        scalekit(ctx, admin, {
          name: `@scalekit/queue, maxInFlight ${w}`,
          suffix: `skw${w}`,
          maxInFlight: w,
        }),
      ),
    )),
    ...(before === undefined
      ? []
      : [
          await scalekit(ctx, admin, {
            name: '@scalekit/queue (before)',
            suffix: 'skb',
            module: (await import(before)) as QueueModule,
          }),
        ]),
    // SK_QUEUE_PEERS=0 leaves the peers out (for a quick before/after of the package alone).
    ...(process.env.SK_QUEUE_PEERS === '0'
      ? []
      : [
          await amqpConnectionManager(ctx, admin, exchange),
          await rascalSubject(ctx, admin, exchange),
          await rabbitmqClient(ctx, admin, exchange),
        ]),
  ]
}
