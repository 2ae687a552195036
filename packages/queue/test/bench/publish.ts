/**
 * Publish-with-confirms and end-to-end throughput of @scalekit/queue against raw amqplib on the
 * same quorum queue (the floor: a confirm channel with a window of 256 unconfirmed messages), and
 * against raw amqplib waiting for one confirm at a time.
 *
 *   pnpm --filter @scalekit/queue exec tsx test/bench/publish.ts [messages]
 *
 * Uses SCALEKIT_AMQP_URL (default amqp://guest:guest@127.0.0.1:5672); declares and deletes its own
 * uniquely named exchange and queues. Prints ops/s and the ratio to the floor, with date, Node, CPU.
 */
import { randomUUID } from 'node:crypto'
import { cpus } from 'node:os'
import { connect } from 'amqplib'
import type { Channel, ConfirmChannel } from 'amqplib'
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'

const url = process.env.SCALEKIT_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672'
const count = Number(process.argv[2] ?? '20000')
const app = `bench_${randomUUID().slice(0, 8)}`
const Item = defineMessage('bench.item', z.object({ i: z.number(), text: z.string() }))
const text = 'x'.repeat(64)
const queueName = `${app}.raw`

async function rawWindow(ch: ConfirmChannel, window: number): Promise<number> {
  const started = performance.now()
  let inFlight = 0
  let next = 0
  await new Promise<void>((resolve, reject) => {
    const pump = (): void => {
      while (inFlight < window && next < count) {
        const i = next++
        inFlight += 1
        const body = Buffer.from(JSON.stringify({ i, text }))
        ch.publish(app, 'bench.raw', body, { persistent: true, mandatory: true, messageId: randomUUID(), contentType: 'application/json' }, (err: unknown) => {
          if (err !== null && err !== undefined) {
            reject(err instanceof Error ? err : new Error('publish nacked'))
            return
          }
          inFlight -= 1
          if (next === count && inFlight === 0) resolve()
          else pump()
        })
      }
    }
    pump()
  })
  return count / ((performance.now() - started) / 1000)
}

async function drainRaw(ch: Channel): Promise<number> {
  const started = performance.now()
  await ch.prefetch(256)
  let got = 0
  await new Promise<void>((resolve) => {
    void ch.consume(queueName, (msg) => {
      if (msg === null) return
      ch.ack(msg)
      got += 1
      if (got === count) resolve()
    })
  })
  return count / ((performance.now() - started) / 1000)
}

async function main(): Promise<void> {
  const connection = await connect(url)
  const admin = await connection.createChannel()
  await admin.assertExchange(app, 'topic', { durable: true })
  await admin.assertQueue(queueName, { durable: true, arguments: { 'x-queue-type': 'quorum', 'x-delivery-limit': 10 } })
  await admin.bindQueue(queueName, app, 'bench.raw')
  const confirm = await connection.createConfirmChannel()

  const floor = await rawWindow(confirm, 256)
  await admin.purgeQueue(queueName)
  const oneAtATime = await rawWindow(confirm, 1).catch(() => 0)
  const rawE2e = await drainRaw(admin)

  const queue = createQueue({ url, app })
  // Declare the group's queue, then publish with nobody consuming (publish throughput alone).
  const probe = queue.consume(Item, () => undefined, { group: 'bench' })
  await probe.ready
  await probe.close()
  let started = performance.now()
  await Promise.all(Array.from({ length: count }, async (_, i) => queue.publish(Item, { i, text })))
  const ours = count / ((performance.now() - started) / 1000)
  // End to end: consume what was published with a no-op handler.
  let handled = 0
  started = performance.now()
  await new Promise<void>((resolve) => {
    queue.consume(Item, () => {
      handled += 1
      if (handled === count) resolve()
    }, { group: 'bench', concurrency: 64, prefetch: 256 })
  })
  const oursE2e = count / ((performance.now() - started) / 1000)
  await queue.close()

  for (const q of [queueName, `${app}.bench.bench.item`, `${app}.bench:dead-letter`]) await admin.deleteQueue(q)
  await admin.deleteExchange(app)
  await admin.deleteExchange(`${app}:delay`)
  await connection.close()

  const fmt = (n: number): string => `${Math.round(n).toLocaleString('en-US')} msg/s`
  console.log(`date ${new Date().toISOString()}, node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${count} messages of ~80 bytes, RabbitMQ at ${new URL(url).host}`)
  console.log(`publish with confirms  raw amqplib window 256 (floor) ${fmt(floor)}`)
  console.log(`                       raw amqplib one confirm at a time ${fmt(oneAtATime)} (${(oneAtATime / floor).toFixed(2)}× floor)`)
  console.log(`                       @scalekit/queue publish (window 512) ${fmt(ours)} (${(ours / floor).toFixed(2)}× floor)`)
  console.log(`consume, no-op handler raw amqplib prefetch 256 ${fmt(rawE2e)}`)
  console.log(`                       @scalekit/queue concurrency 64, prefetch 256 ${fmt(oursE2e)} (${(oursE2e / rawE2e).toFixed(2)}× raw)`)
}

await main()
