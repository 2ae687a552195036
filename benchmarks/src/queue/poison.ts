/**
 * A poison message: one message whose handler always throws, for a few seconds per library (all
 * at once). Counts handler calls and where the message ends: still in its queue (looping), in the
 * dead-letter queue, or gone. Each library gets its documented error path: @scalekit/queue throws
 * from the handler (5 attempts, backoff from 100 ms); amqp-connection-manager and raw-style code
 * nack (requeue, amqplib's default); rabbitmq-client throws (it nacks with requeue, its default);
 * rascal calls ackOrNack(error) (its default recovery: nack without requeue). The peers' queues
 * dead-letter to a queue of their own, so a broker-side dead-lettering is counted too.
 */
import { connect as connectManager } from 'amqp-connection-manager'
import type { ChannelWrapper } from 'amqp-connection-manager'
import { Connection as RmqClient } from 'rabbitmq-client'
import rascal from 'rascal'
import { z } from 'zod'
import { createQueue, defineMessage } from '@scalekit/queue'
import { printTable } from '../harness'
import { QUORUM, scalekitNames, sleep } from './context'
import type { Admin, QueueBenchContext } from './context'
import type { Target } from './throughput'

interface PoisonResult {
  name: string
  policy: string
  calls: number
  callsPerSec: number
  inQueue: number
  deadLettered: number
  outcome: string
}

export async function runPoison(
  ctx: QueueBenchContext,
  admin: Admin,
): Promise<{ results: PoisonResult[]; targets: Target[] }> {
  const windowMs = ctx.quick ? 2_500 : 4_000
  const exchange = `${ctx.runId}_poison`
  await admin.ch.assertExchange(exchange, 'topic', { durable: true })
  ctx.created.exchanges.add(exchange)
  const declare = async (key: string): Promise<{ queue: string; dlq: string }> => {
    const queue = `${exchange}.${key}`
    const dlq = `${queue}.dlq`
    for (const q of [queue, dlq]) ctx.created.queues.add(q)
    await admin.ch.assertQueue(dlq, { durable: true, arguments: QUORUM })
    await admin.ch.assertQueue(queue, {
      durable: true,
      arguments: { ...QUORUM, 'x-dead-letter-exchange': '', 'x-dead-letter-routing-key': dlq },
    })
    await admin.ch.bindQueue(queue, exchange, key)
    admin.ch.publish(exchange, key, Buffer.from('{"i":1}'), {
      persistent: true,
      contentType: 'application/json',
      messageId: `poison-${key}`,
    })
    return { queue, dlq }
  }
  const calls = new Map<string, number>()
  const count = (name: string): void => {
    calls.set(name, (calls.get(name) ?? 0) + 1)
  }
  const stops: (() => Promise<void>)[] = []
  const queues = new Map<string, { queue: string; dlq: string; policy: string }>()

  // @scalekit/queue
  const app = `${ctx.runId}_poison_sk`
  const names = scalekitNames(app, ['bench.poison'], ['poison'])
  for (const q of names.queues) ctx.created.queues.add(q)
  for (const e of names.exchanges) ctx.created.exchanges.add(e)
  const Poison = defineMessage('bench.poison', z.object({ i: z.number() }))
  const ours = createQueue({ url: ctx.url, app })
  const consumer = ours.consume(
    Poison,
    () => {
      count('@scalekit/queue')
      throw new Error('poison')
    },
    { group: 'poison', attempts: 5, backoff: { initial: 100, factor: 2, max: 1_000, jitter: 0.2 } },
  )
  await consumer.ready
  queues.set('@scalekit/queue', {
    queue: `${app}.poison.bench.poison`,
    dlq: `${app}.poison:dead-letter`,
    policy: 'throw; attempts 5, backoff 100 ms × 2 through the delay ladder',
  })
  stops.push(async () => ours.close())

  // amqp-connection-manager
  const acm = await declare('acm')
  queues.set('amqp-connection-manager', { ...acm, policy: 'catch, ch.nack(msg) (requeue: amqplib default)' })
  const manager = connectManager([ctx.url])
  const acmCh: ChannelWrapper = manager.createChannel({ confirm: false })
  await acmCh.waitForConnect()
  await acmCh.consume(
    acm.queue,
    (msg) => {
      count('amqp-connection-manager')
      acmCh.nack(msg)
    },
    { prefetch: 10 },
  )
  stops.push(async () => {
    await acmCh.close().catch(() => undefined)
    await manager.close().catch(() => undefined)
  })

  // rascal
  const ras = await declare('rascal')
  queues.set('rascal', { ...ras, policy: 'ackOrNack(error) (default recovery: nack, no requeue)' })
  const broker = await rascal.BrokerAsPromised.create(
    rascal.withDefaultConfig({
      vhosts: {
        '/': {
          connection: { url: ctx.url },
          queues: { [ras.queue]: { assert: false, check: false } },
          subscriptions: { sub: { queue: ras.queue, prefetch: 10 } },
        },
      },
    }),
  )
  broker.on('error', () => undefined)
  const sub = await broker.subscribe('sub')
  sub.on('error', () => undefined)
  sub.on('message', (_m: unknown, _c: unknown, ackOrNack: (error?: Error) => void) => {
    count('rascal')
    ackOrNack(new Error('poison'))
  })
  stops.push(async () => {
    await broker.shutdown().catch(() => undefined)
  })

  // rabbitmq-client
  const rmq = await declare('rmqc')
  queues.set('rabbitmq-client', { ...rmq, policy: 'throw (default: nack with requeue)' })
  const rabbit = new RmqClient(ctx.url)
  rabbit.on('error', () => undefined)
  const rmqSub = rabbit.createConsumer(
    { queue: rmq.queue, queueOptions: { queue: rmq.queue, passive: true }, qos: { prefetchCount: 10 } },
    () => {
      count('rabbitmq-client')
      throw new Error('poison')
    },
  )
  rmqSub.on('error', () => undefined)
  stops.push(async () => {
    await rmqSub.close().catch(() => undefined)
    await rabbit.close().catch(() => undefined)
  })

  // Publish ours once everything listens, then let them all run.
  await ours.publish(Poison, { i: 1 })
  const started = Date.now()
  await sleep(windowMs)
  const snapshot = new Map(calls)
  const elapsed = (Date.now() - started) / 1000
  for (const stop of stops) await stop()
  const results: PoisonResult[] = []
  for (const [name, { queue, dlq, policy }] of queues) {
    const inQueue = (await admin.ch.checkQueue(queue)).messageCount
    const deadLettered = (await admin.ch.checkQueue(dlq)).messageCount
    const n = snapshot.get(name) ?? 0
    const outcome =
      deadLettered > 0
        ? n > 1
          ? `retried ${n - 1}×, then dead-lettered`
          : 'dead-lettered on the first failure'
        : inQueue > 0
          ? 'still looping (back in its queue)'
          : 'gone'
    results.push({
      name,
      policy,
      calls: n,
      callsPerSec: Math.round(n / elapsed),
      inQueue,
      deadLettered,
      outcome,
    })
  }
  printTable(`Poison message: a handler that always throws, ${windowMs / 1000} s, all libraries at once`, [
    ['', 'handler calls', 'calls/s', 'dead-lettered', 'outcome', 'error path'],
    ...results.map((r) => [
      r.name,
      String(r.calls),
      String(r.callsPerSec),
      String(r.deadLettered),
      r.outcome,
      r.policy,
    ]),
  ])
  const mine = results.find((r) => r.name === '@scalekit/queue')
  return {
    results,
    targets: [
      {
        wanted: 'a poison message retried with backoff, then dead-lettered',
        met: mine !== undefined && mine.calls === 5 && mine.deadLettered === 1,
      },
    ],
  }
}
