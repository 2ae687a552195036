/**
 * Forced connection closes: every library publishes paced ~80-byte messages with confirms to its
 * own quorum queue on a private broker node while `rabbitmqctl close_all_connections` runs twice.
 * Afterwards each queue is drained and compared with what each library reported: a confirmed
 * message missing from its queue is lost; a rejected one found in it is a false failure (a retrying
 * app duplicates it). No publish is retried by the benchmark.
 */
import { startRabbitBroker } from '@scalekit/test-utils'
import { performance } from 'node:perf_hooks'
import { connect as connectManager } from 'amqp-connection-manager'
import { connect } from 'amqplib'
import { Connection as RmqClient } from 'rabbitmq-client'
import rascal from 'rascal'
import { z } from 'zod'
import { createQueue, defineMessage } from '@scalekit/queue'
import { printTable, withCap } from '../harness'
import { QUORUM, sleep } from './context'
import type { QueueBenchContext } from './context'
import type { Target } from './throughput'

interface Contestant {
  name: string
  queue: string
  publish: (i: number) => Promise<unknown>
  close: () => Promise<void>
}

export interface FaultRow {
  name: string
  sent: number
  confirmed: number
  rejected: number
  unsettled: number
  inQueue: number
  lost: number
  rejectedButStored: number
  duplicates: number
  errors: Record<string, number>
}

const RATE_PER_SEC = 1_500
const OUTSTANDING = 1_024

export async function runFaults(
  ctx: QueueBenchContext,
): Promise<{ rows: FaultRow[]; targets: Target[] } | { skipped: string }> {
  let broker
  try {
    broker = await startRabbitBroker()
  } catch (error) {
    console.log(
      `\nForced connection closes: skipped, the private broker node did not start (${(error as Error).message.split('\n')[0]})`,
    )
    return { skipped: (error as Error).message }
  }
  const url = broker.url
  const durationMs = ctx.quick ? 2_000 : 3_000
  try {
    const adminConn = await connect(url)
    adminConn.on('error', () => undefined)
    const admin = await adminConn.createChannel()
    const exchange = 'faults'
    await admin.assertExchange(exchange, 'topic', { durable: true })
    const declare = async (key: string): Promise<string> => {
      await admin.assertQueue(`faults.${key}`, { durable: true, arguments: QUORUM })
      await admin.bindQueue(`faults.${key}`, exchange, key)
      return `faults.${key}`
    }
    const acmQueue = await declare('acm')
    const rmqQueue = await declare('rmqc')
    const rascalQueue = await declare('rascal')
    await adminConn.close()
    const contestants: Contestant[] = []

    const T = defineMessage('bench.fault', z.object({ i: z.number(), text: z.string() }))
    const ours = createQueue({ url, app: 'skfaults' })
    const probe = ours.consume(T, () => undefined, { group: 'g' })
    await probe.ready
    await probe.close()
    contestants.push({
      name: '@scalekit/queue',
      queue: 'skfaults.g.bench.fault',
      publish: async (i) => ours.publish(T, { i, text: 'x'.repeat(64) }),
      close: async () => ours.close(),
    })

    const manager = connectManager([url])
    manager.on('connectFailed', () => undefined)
    const acm = manager.createChannel({ confirm: true })
    await acm.waitForConnect()
    contestants.push({
      name: 'amqp-connection-manager',
      queue: acmQueue,
      publish: async (i) =>
        acm.publish(exchange, 'acm', Buffer.from(JSON.stringify({ i, text: 'x'.repeat(64) })), {
          persistent: true,
          mandatory: true,
        }),
      close: async () => {
        await manager.close().catch(() => undefined)
      },
    })

    const rabbit = new RmqClient(url)
    rabbit.on('error', () => undefined)
    const pub = rabbit.createPublisher({ confirm: true })
    contestants.push({
      name: 'rabbitmq-client',
      queue: rmqQueue,
      publish: async (i) =>
        pub.send(
          { exchange, routingKey: 'rmqc', durable: true, mandatory: true },
          { i, text: 'x'.repeat(64) },
        ),
      close: async () => {
        await pub.close().catch(() => undefined)
        await rabbit.close().catch(() => undefined)
      },
    })

    const rb = await rascal.BrokerAsPromised.create(
      rascal.withDefaultConfig({
        vhosts: {
          '/': {
            connection: { url },
            exchanges: { [exchange]: { assert: false, check: false } },
            queues: { [rascalQueue]: { assert: false, check: false } },
            publications: {
              p: {
                exchange,
                routingKey: 'rascal',
                confirm: true,
                options: { persistent: true, mandatory: true },
              },
            },
          },
        },
      }),
    )
    rb.on('error', () => undefined)
    contestants.push({
      name: 'rascal',
      queue: rascalQueue,
      publish: async (i) =>
        new Promise<void>((resolve, reject) => {
          rb.publish('p', { i, text: 'x'.repeat(64) }).then((publication) => {
            publication.on('success', () => {
              resolve()
            })
            publication.on('error', reject)
          }, reject)
        }),
      close: async () => {
        await rb.shutdown().catch(() => undefined)
      },
    })

    // Publish, paced, all at once; close every connection twice meanwhile.
    interface Tally {
      sent: number
      confirmed: Set<number>
      rejected: Set<number>
      errors: Record<string, number>
      outstanding: number
    }
    const state = contestants.map((): Tally => ({
      sent: 0,
      confirmed: new Set(),
      rejected: new Set(),
      errors: {},
      outstanding: 0,
    }))
    const started = performance.now()
    const closes = (async () => {
      await sleep(durationMs / 3)
      await broker.closeAllConnections('bench fault 1')
      await sleep(durationMs / 3)
      await broker.closeAllConnections('bench fault 2')
    })()
    const settled = contestants.map(async (c, k) => {
      const s = state[k]!
      const pending = new Set<Promise<unknown>>()
      while (performance.now() - started < durationMs) {
        const allowed = Math.floor(((performance.now() - started) / 1000) * RATE_PER_SEC)
        while (s.sent < allowed && s.outstanding < OUTSTANDING) {
          const i = s.sent++
          s.outstanding++
          const p = c.publish(i).then(
            () => {
              s.confirmed.add(i)
            },
            (error: unknown) => {
              s.rejected.add(i)
              const coded = (error as { code?: unknown }).code
              const code = (
                typeof coded === 'string' ? coded : error instanceof Error ? error.message : 'error'
              ).slice(0, 50)
              s.errors[code] = (s.errors[code] ?? 0) + 1
            },
          )
          pending.add(p)
          void p.finally(() => {
            s.outstanding--
            pending.delete(p)
          })
        }
        await sleep(10)
      }
      await withCap(Promise.all(pending), 35_000)
    })
    await closes
    await Promise.all(settled)
    for (const c of contestants) await withCap(c.close(), 5_000)

    const rows: FaultRow[] = []
    for (const [k, c] of contestants.entries()) {
      const s = state[k]!
      const arrived = await drain(url, c.queue)
      const unique = new Set(arrived)
      rows.push({
        name: c.name,
        sent: s.sent,
        confirmed: s.confirmed.size,
        rejected: s.rejected.size,
        unsettled: s.sent - s.confirmed.size - s.rejected.size,
        inQueue: arrived.length,
        lost: [...s.confirmed].filter((i) => !unique.has(i)).length,
        rejectedButStored: [...s.rejected].filter((i) => unique.has(i)).length,
        duplicates: arrived.length - unique.size,
        errors: s.errors,
      })
    }
    printTable(
      `Forced connection closes: ${RATE_PER_SEC} msg/s for ${durationMs / 1000} s per library, close_all_connections twice (private node)`,
      [
        [
          '',
          'sent',
          'confirmed',
          'rejected',
          'unsettled',
          'in queue',
          'confirmed but lost',
          'rejected but stored',
          'stored twice',
          'errors',
        ],
        ...rows.map((r) => [
          r.name,
          String(r.sent),
          String(r.confirmed),
          String(r.rejected),
          String(r.unsettled),
          String(r.inQueue),
          String(r.lost),
          String(r.rejectedButStored),
          String(r.duplicates),
          JSON.stringify(r.errors),
        ]),
      ],
    )
    const mine = rows.find((r) => r.name === '@scalekit/queue')
    return {
      rows,
      targets: [
        {
          wanted:
            'zero confirmed messages lost and zero stored messages reported as failed across forced closes',
          met: mine !== undefined && mine.lost === 0 && mine.rejectedButStored === 0 && mine.unsettled === 0,
        },
      ],
    }
  } finally {
    await broker.stop()
  }
}

/** Every `i` in `queue`, read without acknowledgement until it has been quiet for 500 ms. */
async function drain(url: string, queue: string): Promise<number[]> {
  const connection = await connect(url)
  connection.on('error', () => undefined)
  const ch = await connection.createChannel()
  const got: number[] = []
  let last = performance.now()
  await ch.consume(
    queue,
    (msg) => {
      if (msg === null) return
      last = performance.now()
      try {
        got.push((JSON.parse(msg.content.toString()) as { i: number }).i)
      } catch {
        got.push(-1)
      }
    },
    { noAck: true },
  )
  while (performance.now() - last < 500) await sleep(100)
  await connection.close()
  return got
}
