/**
 * Client CPU per consumed message of one build of @scalekit/queue: publishes a backlog, then
 * drains it with a no-op handler (`concurrency` 256, `prefetch` 256) and prints the CPU of the
 * drain alone — small enough to run under `node --cpu-prof` (see the queue section of the README):
 *
 *   node --import tsx src/queue/drain-cpu.ts [/abs/path/to/dist/index.js] [messages]
 *
 * Without a path it measures the workspace build. It declares and deletes a queue of its own.
 */
import { z } from 'zod'
import type * as Workspace from '@scalekit/queue'
import { createContext, openAdmin, TEXT } from './context'

type QueueModule = Pick<typeof Workspace, 'createQueue' | 'defineMessage'>

const build = process.argv[2]
const messages = Number(process.argv[3] ?? 30_000)
const module: QueueModule =
  build === undefined || build === ''
    ? await import('@scalekit/queue')
    : ((await import(build)) as QueueModule)
const ctx = createContext()
const app = `${ctx.runId}_drain`
const queue = module.createQueue({ url: ctx.url, app })
const Item = module.defineMessage('bench.drain', z.object({ i: z.number(), text: z.string() }))
const probe = queue.consume(Item, () => undefined, { group: 'g' })
await probe.ready
await probe.close()

let next = 0
const worker = async (): Promise<void> => {
  while (next < messages) await queue.publish(Item, { i: next++, text: TEXT })
}
await Promise.all(Array.from({ length: 1024 }, worker))

let handled = 0
let done: () => void = () => undefined
const finished = new Promise<void>((resolve) => (done = resolve))
const cpu = process.cpuUsage()
const started = performance.now()
const consumer = queue.consume(
  Item,
  () => {
    if (++handled === messages) done()
  },
  { group: 'g', concurrency: 256, prefetch: 256 },
)
await finished
const used = process.cpuUsage(cpu)
const seconds = (performance.now() - started) / 1000
console.log(
  `${build ?? '@scalekit/queue (workspace)'}: ${((used.user + used.system) / messages).toFixed(2)} µs client CPU per consumed message, ${Math.round(messages / seconds)} msg/s`,
)
await consumer.close()
await queue.close()
const admin = await openAdmin(ctx.url)
await admin.ch.deleteQueue(`${app}.g.bench.drain`)
await admin.ch.deleteQueue(`${app}.g:dead-letter`)
await admin.ch.deleteExchange(app)
await admin.ch.deleteExchange(`${app}:delay`)
await admin.close()
