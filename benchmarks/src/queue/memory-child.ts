/**
 * One run of the broker-down memory scenario, in its own process started with `--expose-gc`:
 * `BENCH_COUNT` publishes of ~1 KB (fresh random payloads) to a broker that is not there (a port
 * nothing listens on), none awaited, then the heap + Buffer growth after a full GC, and how many
 * publishes were refused at once versus held.
 */
import { randomBytes } from 'node:crypto'
import { connect as connectManager } from 'amqp-connection-manager'
import { Connection as RmqClient } from 'rabbitmq-client'
import rascal from 'rascal'
import { z } from 'zod'
import { createQueue, defineMessage } from '@scalekit/queue'
import { reportResult } from '@scalekit/test-utils/worker'
import { withCap } from '../harness'

export interface MemoryDownResult {
  library: string
  setup: string
  /** heapUsed + external (Buffers) growth after a full GC, bytes. */
  growthBytes: number
  heapGrowthBytes: number
  externalGrowthBytes: number
  refused: number
  refusedCodes: Record<string, number>
  /** Publishes neither refused nor settled: held in memory. */
  pending: number
  note?: string
}

const gc = globalThis.gc
if (gc === undefined) throw new Error('run with --expose-gc')
const fullGc = async (): Promise<void> => {
  for (let i = 0; i < 3; i++) {
    gc()
    await new Promise((resolve) => setImmediate(resolve))
  }
}

const library = process.env.BENCH_LIB ?? 'scalekit'
const count = Number(process.env.BENCH_COUNT ?? '50000')
const url = process.env.BENCH_DOWN_URL ?? 'amqp://guest:guest@127.0.0.1:1'
const body = (): { pad: string } => ({ pad: randomBytes(768).toString('base64') })

let publish: () => Promise<unknown>
let setup: string
let close: () => Promise<void> = async () => Promise.resolve()
let note: string | undefined

if (library === 'scalekit') {
  const T = defineMessage('bench.memory', z.object({ pad: z.string() }))
  const queue = createQueue({ url, app: 'skqbench_down' })
  publish = async () => queue.publish(T, body())
  setup =
    'defaults: buffer.maxMessages 10 000, buffer.maxBytes 16 MiB, whenDisconnected wait (publishTimeout 30 s)'
  close = async () => queue.close()
} else if (library === 'amqp-connection-manager') {
  const manager = connectManager([url])
  manager.on('connectFailed', () => undefined)
  const ch = manager.createChannel({ confirm: true })
  publish = async () => ch.publish('x', 'k', Buffer.from(JSON.stringify(body())), { persistent: true })
  setup = 'createChannel({ confirm: true }), defaults'
  close = async () => {
    await manager.close().catch(() => undefined)
  }
} else if (library === 'rabbitmq-client') {
  const rabbit = new RmqClient(url)
  rabbit.on('error', () => undefined)
  const pub = rabbit.createPublisher({ confirm: true })
  publish = async () => pub.send({ exchange: 'x', routingKey: 'k', durable: true }, body())
  setup = 'createPublisher({ confirm: true }), defaults'
  close = async () => {
    await rabbit.close().catch(() => undefined)
  }
} else {
  type Broker = Awaited<ReturnType<typeof rascal.BrokerAsPromised.create>>
  const created = await withCap(
    rascal.BrokerAsPromised.create(
      rascal.withDefaultConfig({
        vhosts: { '/': { connection: { url }, publications: { p: { exchange: '' } } } },
      }),
    ).catch((error: unknown) => error as Error),
    5_000,
  )
  const broker: Broker | undefined =
    !created.timedOut && !(created.value instanceof Error) ? created.value : undefined
  if (broker === undefined) {
    note = created.timedOut
      ? 'BrokerAsPromised.create() did not settle within 5 s'
      : `BrokerAsPromised.create() rejects at once (${(created.value as { code?: string }).code ?? 'error'}): no client to publish with`
  }
  publish = async () => {
    if (broker === undefined) throw Object.assign(new Error('no broker'), { code: 'NO_BROKER' })
    return broker.publish('p', body())
  }
  setup = 'withDefaultConfig, one confirming publication'
}

let refused = 0
let settled = 0
const codes: Record<string, number> = {}
await fullGc()
const before = process.memoryUsage()
for (let i = 0; i < count; i++) {
  publish().then(
    () => {
      settled++
    },
    (error: unknown) => {
      refused++
      const coded = (error as { code?: unknown }).code
      const code = (
        typeof coded === 'string' ? coded : error instanceof Error ? error.message : 'error'
      ).slice(0, 60)
      codes[code] = (codes[code] ?? 0) + 1
    },
  )
}
await new Promise((resolve) => setTimeout(resolve, 2_000))
await fullGc()
const after = process.memoryUsage()
const result: MemoryDownResult = {
  library,
  setup,
  growthBytes: after.heapUsed - before.heapUsed + (after.external - before.external),
  heapGrowthBytes: after.heapUsed - before.heapUsed,
  externalGrowthBytes: after.external - before.external,
  refused,
  refusedCodes: codes,
  pending: count - refused - settled,
  ...(note === undefined ? {} : { note }),
}
await reportResult(result)
await withCap(close(), 2_000)
process.exit(0)
