/**
 * Client CPU per published message of one build of @scalekit/queue, publishing alone with 1 024
 * `publish()` calls outstanding — small enough to run under `node --trace-gc-nvp`, which prints the
 * bytes each scavenge promoted to the old generation (see the queue section of the README):
 *
 *   node --trace-gc-nvp --import tsx src/queue/promotion.ts [/abs/path/to/dist/index.js] [messages]
 *
 * Without a path it measures the workspace build. It declares and deletes a queue of its own.
 */
import { z } from 'zod'
import type * as Workspace from '@scalekit/queue'
import { createContext, openAdmin, TEXT } from './context'

type QueueModule = Pick<typeof Workspace, 'createQueue' | 'defineMessage'>

const build = process.argv[2]
const messages = Number(process.argv[3] ?? 100_000)
const module: QueueModule =
  build === undefined || build === ''
    ? await import('@scalekit/queue')
    : ((await import(build)) as QueueModule)
const ctx = createContext()
const app = `${ctx.runId}_promotion`
const queue = module.createQueue({ url: ctx.url, app })
const Item = module.defineMessage('bench.promotion', z.object({ i: z.number(), text: z.string() }))
const probe = queue.consume(Item, () => undefined, { group: 'g' })
await probe.ready
await probe.close()

async function publish(n: number): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < n) await queue.publish(Item, { i: next++, text: TEXT })
  }
  await Promise.all(Array.from({ length: 1024 }, worker))
}

await publish(20_000)
const cpu = process.cpuUsage()
const started = performance.now()
await publish(messages)
const used = process.cpuUsage(cpu)
const seconds = (performance.now() - started) / 1000
console.log(
  `${build ?? '@scalekit/queue (workspace)'}: ${((used.user + used.system) / messages).toFixed(2)} µs client CPU per message, ${Math.round(messages / seconds)} msg/s`,
)
await queue.close()
const admin = await openAdmin(ctx.url)
await admin.ch.deleteQueue(`${app}.g.bench.promotion`)
await admin.ch.deleteQueue(`${app}.g:dead-letter`)
await admin.ch.deleteExchange(app)
await admin.ch.deleteExchange(`${app}:delay`)
await admin.close()
