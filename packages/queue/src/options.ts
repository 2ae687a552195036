import type { DedupStore } from './dedup'
import { QueueOptionsError } from './errors'
import type { Backoff } from './internal/backoff'

/** What `publish` does while the connection is down (or blocked by the broker). */
export type DisconnectedPolicy = 'wait' | 'reject'

/** Options of {@link createQueue}. Durations are milliseconds. */
export interface QueueOptions {
  /** `amqp://` or `amqps://` URL of RabbitMQ. Omit for the in-memory transport (same semantics, one process). */
  url?: string | undefined
  /** Prefix of every exchange and queue this app declares; letters, digits, `_`, `-`, `.`. @default 'scalekit' */
  app?: string
  /** Upper bound of the TCP + AMQP handshake. @default 10_000 */
  connectTimeout?: number
  /** Upper bound of every other broker call (declare, bind, consume, cancel, close). @default 10_000 */
  operationTimeout?: number
  /** AMQP heartbeat in seconds: a dead peer is noticed within about twice this. @default 10 */
  heartbeat?: number
  /** Reconnect backoff. @default { initial: 100, factor: 2, max: 5_000, jitter: 0.5 } */
  reconnect?: Partial<Backoff>
  /** How long a `publish` may wait (in the buffer and for its confirm) before it rejects with `ERR_QUEUE_PUBLISH_TIMEOUT`. @default 30_000 */
  publishTimeout?: number
  /** Published-but-unconfirmed messages in flight at once, over all publishing connections (the confirm window). @default 1024 */
  maxInFlight?: number
  /**
   * Connections that publish, besides the one that consumes: the broker's flow control on a
   * publishing connection never stalls the consumers' acks (1–8). @default 1
   */
  publishConnections?: number
  /**
   * Confirm channels on each publishing connection, written to in turn (1–8). RabbitMQ runs every
   * channel as a process of its own, and one channel's process caps a publisher's rate well before
   * the queue does (raw amqplib on two: 1.16–1.21× one in the benchmark, on 2 cores). @default 2
   */
  publishChannels?: number
  /** The buffer of messages waiting for a connection (or for room in the window). */
  buffer?: {
    /** @default 10_000 */
    maxMessages?: number
    /** Sum of payload bytes. @default 16 MiB */
    maxBytes?: number
    /** `wait`: buffer up to `publishTimeout`; `reject`: fail at once with `ERR_QUEUE_DISCONNECTED`. @default 'wait' */
    whenDisconnected?: DisconnectedPolicy
  }
  /** Largest encoded payload; larger ones reject with `ERR_QUEUE_MESSAGE_TOO_LARGE`. @default 1 MiB */
  maxMessageBytes?: number
  /** Broker-side `x-delivery-limit` of every group queue: a message that keeps crashing its consumer is dead-lettered after this many redeliveries. @default 10 */
  deliveryLimit?: number
  /** Longest `delay` (and retry backoff) accepted. @default 86_400_000 (1 day) */
  maxDelay?: number
  /** How long `close()` lets in-flight handlers and publishes finish. @default 10_000 */
  drainTimeout?: number
  /** How often queue depth and consumer counts are published on `scalekit:queue:depth` (only while someone subscribes); `0` turns it off. @default 15_000 */
  statsInterval?: number
}

/** Options of `queue.consume`. */
export interface ConsumeOptions {
  /** The consumer group: each group gets its own copy of every message; instances of a group share the work. `[A-Za-z0-9_-]`, required. */
  group: string
  /** Handlers running at once in this process. @default 1 */
  concurrency?: number
  /** Messages the broker sends ahead of acknowledgement. @default `concurrency` */
  prefetch?: number
  /** Attempts in total, the first included; after the last the message is dead-lettered. @default 5 */
  attempts?: number
  /** Delay between attempts. @default { initial: 1_000, factor: 2, max: 60_000, jitter: 0.2 } */
  backoff?: Partial<Backoff>
  /** A handler attempt that takes longer fails with `ERR_QUEUE_HANDLER_TIMEOUT` (and its `ctx.signal` aborts). @default 30_000 */
  handlerTimeout?: number
  /** Errors for which retrying is pointless: the message is dead-lettered at once. `NonRetryableError` always is. @default none */
  nonRetryable?: (error: unknown) => boolean
  /** Deduplicate by message id: a message whose id this store has seen handled is acknowledged without running the handler. @default off */
  dedup?: DedupStore | undefined
}

/** Queue options after defaults and validation. */
export interface ResolvedQueueOptions {
  url: string | undefined
  app: string
  connectTimeout: number
  operationTimeout: number
  heartbeat: number
  reconnect: Backoff
  publishTimeout: number
  maxInFlight: number
  publishConnections: number
  publishChannels: number
  buffer: { maxMessages: number; maxBytes: number; whenDisconnected: DisconnectedPolicy }
  maxMessageBytes: number
  deliveryLimit: number
  maxDelay: number
  drainTimeout: number
  statsInterval: number
}

/** Consume options after defaults and validation. */
export interface ResolvedConsumeOptions {
  group: string
  concurrency: number
  prefetch: number
  attempts: number
  backoff: Backoff
  handlerTimeout: number
  nonRetryable: (error: unknown) => boolean
  dedup: DedupStore | undefined
}

/** Every default in one place. */
export const defaults = {
  app: 'scalekit',
  connectTimeout: 10_000,
  operationTimeout: 10_000,
  heartbeat: 10,
  reconnect: { initial: 100, factor: 2, max: 5_000, jitter: 0.5 },
  publishTimeout: 30_000,
  maxInFlight: 1024,
  publishConnections: 1,
  publishChannels: 2,
  buffer: { maxMessages: 10_000, maxBytes: 16_777_216, whenDisconnected: 'wait' as DisconnectedPolicy },
  maxMessageBytes: 1_048_576,
  deliveryLimit: 10,
  maxDelay: 86_400_000,
  drainTimeout: 10_000,
  statsInterval: 15_000,
  consume: {
    concurrency: 1,
    attempts: 5,
    backoff: { initial: 1_000, factor: 2, max: 60_000, jitter: 0.2 },
    handlerTimeout: 30_000,
  },
} as const

/** More publishing connections than this buys nothing (the broker's cores) and costs file descriptors. */
/** At most this many publishing connections, and confirm channels on each. */
const MAX_PUBLISHERS = 8

function int(value: number | undefined, fallback: number, name: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new QueueOptionsError(`${name} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got ${String(v)}`)
  }
  return v
}

function resolveBackoff(input: Partial<Backoff> | undefined, fallback: Backoff, name: string): Backoff {
  const b = { ...fallback, ...input }
  int(b.initial, 0, `${name}.initial`, 0)
  int(b.max, 0, `${name}.max`, 0)
  if (!(b.factor >= 1 && Number.isFinite(b.factor))) throw new QueueOptionsError(`${name}.factor must be >= 1, got ${String(b.factor)}`)
  if (!(b.jitter >= 0 && b.jitter <= 1)) throw new QueueOptionsError(`${name}.jitter must be in [0, 1], got ${String(b.jitter)}`)
  if (b.max < b.initial) throw new QueueOptionsError(`${name}.max must be >= ${name}.initial`)
  return b
}

/** Applies defaults and validates; throws `QueueOptionsError` naming the option. */
export function resolveQueueOptions(options: QueueOptions = {}): ResolvedQueueOptions {
  if (typeof options !== 'object') throw new QueueOptionsError('createQueue takes an options object')
  const { url } = options
  if (url !== undefined && (typeof url !== 'string' || !/^amqps?:\/\//.test(url))) {
    throw new QueueOptionsError('url must be an amqp:// or amqps:// URL')
  }
  const app = options.app ?? defaults.app
  if (typeof app !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(app)) {
    throw new QueueOptionsError(`app must be 1-64 characters of [A-Za-z0-9_.-], got ${JSON.stringify(app)}`)
  }
  const policy = options.buffer?.whenDisconnected ?? defaults.buffer.whenDisconnected
  if (!['wait', 'reject'].includes(policy)) throw new QueueOptionsError(`buffer.whenDisconnected must be 'wait' or 'reject', got ${JSON.stringify(policy)}`)
  const heartbeat = int(options.heartbeat, defaults.heartbeat, 'heartbeat', 0)
  return {
    url,
    app,
    connectTimeout: int(options.connectTimeout, defaults.connectTimeout, 'connectTimeout'),
    operationTimeout: int(options.operationTimeout, defaults.operationTimeout, 'operationTimeout'),
    heartbeat,
    reconnect: resolveBackoff(options.reconnect, defaults.reconnect, 'reconnect'),
    publishTimeout: int(options.publishTimeout, defaults.publishTimeout, 'publishTimeout'),
    maxInFlight: int(options.maxInFlight, defaults.maxInFlight, 'maxInFlight'),
    publishConnections: int(options.publishConnections, defaults.publishConnections, 'publishConnections', 1, MAX_PUBLISHERS),
    publishChannels: int(options.publishChannels, defaults.publishChannels, 'publishChannels', 1, MAX_PUBLISHERS),
    buffer: {
      maxMessages: int(options.buffer?.maxMessages, defaults.buffer.maxMessages, 'buffer.maxMessages'),
      maxBytes: int(options.buffer?.maxBytes, defaults.buffer.maxBytes, 'buffer.maxBytes'),
      whenDisconnected: policy,
    },
    maxMessageBytes: int(options.maxMessageBytes, defaults.maxMessageBytes, 'maxMessageBytes'),
    deliveryLimit: int(options.deliveryLimit, defaults.deliveryLimit, 'deliveryLimit'),
    maxDelay: int(options.maxDelay, defaults.maxDelay, 'maxDelay'),
    drainTimeout: int(options.drainTimeout, defaults.drainTimeout, 'drainTimeout', 0),
    statsInterval: int(options.statsInterval, defaults.statsInterval, 'statsInterval', 0),
  }
}

/** Applies defaults and validates consume options; throws `QueueOptionsError` naming the option. */
export function resolveConsumeOptions(options: ConsumeOptions, queue: ResolvedQueueOptions): ResolvedConsumeOptions {
  if (typeof options !== 'object') throw new QueueOptionsError('consume needs options with a group')
  const { group } = options
  if (typeof group !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(group)) {
    throw new QueueOptionsError(`group must be 1-64 characters of [A-Za-z0-9_-], got ${JSON.stringify(group)}`)
  }
  const concurrency = int(options.concurrency, defaults.consume.concurrency, 'concurrency')
  const prefetch = int(options.prefetch, concurrency, 'prefetch')
  if (prefetch < concurrency) throw new QueueOptionsError(`prefetch (${prefetch}) must be >= concurrency (${concurrency})`)
  const backoff = resolveBackoff(options.backoff, defaults.consume.backoff, 'backoff')
  if (backoff.max > queue.maxDelay) throw new QueueOptionsError(`backoff.max (${backoff.max}) must be <= the queue's maxDelay (${queue.maxDelay})`)
  const dedup = options.dedup
  if (dedup !== undefined && (typeof dedup.claim !== 'function' || typeof dedup.complete !== 'function' || typeof dedup.release !== 'function')) {
    throw new QueueOptionsError('dedup must be a DedupStore (claim, complete, release)')
  }
  const nonRetryable = options.nonRetryable ?? ((): boolean => false)
  if (typeof nonRetryable !== 'function') throw new QueueOptionsError('nonRetryable must be a function')
  return {
    group,
    concurrency,
    prefetch,
    attempts: int(options.attempts, defaults.consume.attempts, 'attempts'),
    backoff,
    handlerTimeout: int(options.handlerTimeout, defaults.consume.handlerTimeout, 'handlerTimeout'),
    nonRetryable,
    dedup,
  }
}
