/** What every queue scenario shares: where RabbitMQ is, this run's names, the payload, the clean-up. */
import { randomBytes } from 'node:crypto'
import { connect } from 'amqplib'
import type { Channel, ChannelModel } from 'amqplib'

export interface QueueBenchContext {
  /** The shared RabbitMQ (`SCALEKIT_AMQP_URL`, default `amqp://guest:guest@127.0.0.1:5672`). */
  readonly url: string
  /** Prefix of every exchange and queue this run declares (deleted at the end). */
  readonly runId: string
  /** Shorter runs for a smoke test: `BENCH_QUICK=1`. */
  readonly quick: boolean
  /** Queues and exchanges to delete at the end, per broker URL. */
  readonly created: { queues: Set<string>; exchanges: Set<string> }
}

export function createContext(): QueueBenchContext {
  return {
    url: process.env.SCALEKIT_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672',
    runId: `skqbench_${process.pid.toString(36)}${randomBytes(3).toString('hex')}`,
    quick: process.env.BENCH_QUICK === '1',
    created: { queues: new Set(), exchanges: new Set() },
  }
}

/** The payload every contender sends: about 80 bytes of JSON. */
export const TEXT = 'x'.repeat(64)
export function payload(i: number): { i: number; text: string } {
  return { i, text: TEXT }
}

/** A plain connection + channel for declaring, purging and deleting. */
export interface Admin {
  readonly connection: ChannelModel
  readonly ch: Channel
  close(): Promise<void>
}

export async function openAdmin(url: string): Promise<Admin> {
  const connection = await connect(url)
  connection.on('error', () => undefined)
  const ch = await connection.createChannel()
  ch.on('error', () => undefined)
  return {
    connection,
    ch,
    close: async () => {
      await connection.close().catch(() => undefined)
    },
  }
}

/** Arguments of every benchmark queue: quorum, like @scalekit/queue's group queues. */
export const QUORUM = { 'x-queue-type': 'quorum' } as const

/** Deletes everything this run declared on the shared broker. */
export async function cleanupBroker(ctx: QueueBenchContext): Promise<number> {
  const admin = await openAdmin(ctx.url)
  let deleted = 0
  try {
    for (const q of ctx.created.queues) {
      await admin.ch.deleteQueue(q)
      deleted++
    }
    for (const e of ctx.created.exchanges) {
      await admin.ch.deleteExchange(e)
      deleted++
    }
  } finally {
    await admin.close()
  }
  return deleted
}

/** The names @scalekit/queue declares for `app` with these types and groups (see its README's topology). */
export function scalekitNames(
  app: string,
  types: readonly string[],
  groups: readonly string[],
): { queues: string[]; exchanges: string[] } {
  return {
    queues: [
      ...types.flatMap((t) => groups.map((g) => `${app}.${g}.${t}`)),
      ...groups.map((g) => `${app}.${g}:dead-letter`),
      ...Array.from({ length: 21 }, (_, k) => `${app}:delay:${100 * 2 ** k}`),
    ],
    exchanges: [app, `${app}:delay`],
  }
}

export const sleep = async (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
