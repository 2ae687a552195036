import type { Backoff, BackoffInput, Checks, Duration, Logger } from '@scalekit/internal'
import { createChecks, describeValue } from '@scalekit/internal'
import type { DedupStore } from './dedup'
import { QueueArgumentError, QueueOptionsError } from './errors'
import { GROUP_NAME, MESSAGE_NAME } from './message'

/** What `publish` does while the connection is down (or blocked by the broker). */
export type DisconnectedPolicy = 'wait' | 'reject'

/**
 * Options of {@link createQueue}. Durations are ms or strings such as `'250ms'`, `'5s'`, `'1d'`.
 * A backoff's `jitter` is the share of each delay that is random: a delay `d` becomes
 * `d × (1 − jitter × random())`, so `0` waits exactly `d` and `1` waits anywhere in `[0, d]`.
 */
export interface QueueOptions {
  /**
   * Required: `amqp://` or `amqps://` URL of RabbitMQ (`amqp://user:password@host:5672/vhost`), or
   * `'memory:'` for the in-process transport (same semantics, one process, nothing durable: for
   * tests and a first run). A missing or empty url is refused, never taken to mean memory: an
   * unset `AMQP_URL` in production must not quietly run a broker that loses every message on restart.
   *
   * A non-empty list of URLs names the nodes of one RabbitMQ cluster
   * (`process.env.AMQP_URLS.split(',')`): each connection opens to the first node that answers,
   * and one that is lost reconnects to the next node in turn, waiting the `reconnect` backoff only
   * after a whole round of nodes failed. `'memory:'` only alone.
   */
  url: string | readonly string[] | undefined
  /**
   * Group queues to declare for message types this client publishes, keyed by type name:
   * `{ 'order.placed': ['billing', 'shipping'] }`. A producer that starts before its consumers
   * would otherwise get `ERR_QUEUE_UNROUTABLE` (no queue bound yet); with this, its messages wait
   * in the groups' queues, so deploy order does not matter. Declared like a consumer declares them
   * (same arguments), on every connection. @default none
   */
  declare?: Readonly<Record<string, readonly string[]>> | undefined
  /** Prefix of every exchange and queue this app declares; letters, digits, `_`, `-`, `.`. @default 'scalekit' */
  app?: string
  /** Upper bound of the TCP + AMQP handshake. @default 10_000 (10 s) */
  connectTimeout?: Duration
  /** Upper bound of every other broker call (declare, bind, consume, cancel, close). @default 10_000 (10 s) */
  operationTimeout?: Duration
  /**
   * AMQP heartbeat (sent to the broker in whole seconds, rounded up): a dead peer is noticed within
   * about twice this; `0` turns it off. @default 10_000 (10 s)
   */
  heartbeat?: Duration
  /** Reconnect backoff; `initial` and `max` are durations. @default { initial: 100, factor: 2, max: 5_000, jitter: 0.5 } */
  reconnect?: BackoffInput
  /** How long a `publish` may wait (in the buffer and for its confirm) before it rejects with `ERR_QUEUE_PUBLISH_TIMEOUT`. @default 30_000 (30 s) */
  publishTimeout?: Duration
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
   * the queue does. @default 2
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
  /**
   * Broker-side `x-delivery-limit` of every group queue: a message that keeps crashing its consumer
   * is dead-lettered after this many redeliveries. Every client of one `app` must agree on it (the
   * broker refuses a second declaration with another limit, and so does the memory transport).
   * @default 10
   */
  deliveryLimit?: number
  /** Longest `delay` (and retry backoff) accepted. @default 86_400_000 (1 day) */
  maxDelay?: Duration
  /** How often queue depth and consumer counts are published on `scalekit:queue:depth` (only while someone subscribes); `0` turns it off. @default 15_000 (15 s) */
  statsInterval?: Duration
  /**
   * Where trouble is reported (pino's shape): a lost connection and reconnecting, a publish buffer
   * filling up, a topology mismatch — one warning per episode per minute, with a `code`, never a
   * payload. @default Node's process warnings
   */
  logger?: Logger | undefined
}

/** Options of `queue.consume`. Durations are ms or strings such as `'250ms'`, `'5s'`. */
export interface ConsumeOptions {
  /** The consumer group: each group gets its own copy of every message; instances of a group share the work. `[A-Za-z0-9_-]`, required. */
  group: string
  /** Handlers running at once in this process. @default 1 */
  concurrency?: number
  /** Messages the broker sends ahead of acknowledgement. @default `concurrency` */
  prefetch?: number
  /** Attempts in total, the first included; after the last the message is dead-lettered. @default 5 */
  attempts?: number
  /**
   * Delay between attempts; `jitter` is the share of each delay that is random (see {@link QueueOptions}).
   * @default { initial: 1_000, factor: 2, max: 60_000, jitter: 0.2 }
   */
  backoff?: BackoffInput
  /** A handler attempt that takes longer fails with `ERR_QUEUE_HANDLER_TIMEOUT` (and its `ctx.signal` aborts). @default 30_000 (30 s) */
  handlerTimeout?: Duration
  /** Errors for which retrying is pointless: the message is dead-lettered at once. `NonRetryableError` always is. @default none */
  nonRetryable?: (error: unknown) => boolean
  /** Deduplicate by message id: a message whose id this store has seen handled is acknowledged without running the handler. @default off */
  dedup?: DedupStore | undefined
}

/** Queue options after defaults and validation; durations in ms. */
export interface ResolvedQueueOptions {
  /** Which transport runs: RabbitMQ, or the in-process one (`url: 'memory:'`). */
  transport: 'amqp' | 'memory'
  /** The RabbitMQ URLs, the nodes of one cluster in the order tried (none for memory). */
  urls: readonly string[]
  app: string
  /** Group queues declared ahead of consumers: `[type, group]` pairs. */
  declare: readonly (readonly [string, string])[]
  connectTimeout: number
  operationTimeout: number
  /** In whole seconds, as AMQP carries it. */
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
  statsInterval: number
  logger: Logger | undefined
}

/** Consume options after defaults and validation; durations in ms. */
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

/** Every default in one place; durations in ms. */
export const defaults = {
  app: 'scalekit',
  connectTimeout: 10_000,
  operationTimeout: 10_000,
  heartbeat: 10_000,
  reconnect: { initial: 100, factor: 2, max: 5_000, jitter: 0.5 },
  publishTimeout: 30_000,
  maxInFlight: 1024,
  publishConnections: 1,
  publishChannels: 2,
  buffer: { maxMessages: 10_000, maxBytes: 16_777_216, whenDisconnected: 'wait' as DisconnectedPolicy },
  maxMessageBytes: 1_048_576,
  deliveryLimit: 10,
  maxDelay: 86_400_000,
  statsInterval: 15_000,
  consume: {
    concurrency: 1,
    attempts: 5,
    backoff: { initial: 1_000, factor: 2, max: 60_000, jitter: 0.2 },
    handlerTimeout: 30_000,
  },
} as const

/** At most this many publishing connections, and confirm channels on each: more buys nothing (the broker's cores) and costs file descriptors. */
const MAX_PUBLISHERS = 8

/** Checks of `createQueue` options: `ERR_QUEUE_INVALID_OPTIONS`. */
const options = createChecks(QueueOptionsError)
/** Checks of a call's arguments (`consume`, `publish`, `takeDeadLetters`): `ERR_QUEUE_INVALID_ARGUMENT`. */
export const argumentChecks: Checks = createChecks(QueueArgumentError)

/** The `url` that selects the in-process transport. */
export const MEMORY_URL = 'memory:'

/** Applies defaults and validates; throws `QueueOptionsError` naming the option. */
export function resolveQueueOptions(input: QueueOptions): ResolvedQueueOptions {
  const given: unknown = input
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    options.fail(
      `createQueue takes an options object with a url ('amqp://…' or '${MEMORY_URL}'), got ${describeValue(given)}`,
    )
  const urls = resolveUrls(input.url)
  const app = input.app ?? defaults.app
  if (typeof app !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(app)) {
    options.fail(`app must be 1-64 characters of [A-Za-z0-9_.-], got ${describeValue(app)}`)
  }
  const buffer = options.group('buffer', input.buffer)
  const logger: unknown = input.logger
  if (
    logger !== undefined &&
    (typeof logger !== 'object' || logger === null || typeof (logger as Partial<Logger>).warn !== 'function')
  )
    options.fail(
      `logger must have a warn(obj, msg) method (pino, bunyan, console), got ${describeValue(logger)}`,
    )
  return {
    transport: urls === MEMORY ? 'memory' : 'amqp',
    urls: urls === MEMORY ? [] : urls,
    app,
    declare: resolveDeclare(input.declare),
    connectTimeout: options.duration('connectTimeout', input.connectTimeout, defaults.connectTimeout, {
      min: 1,
    }),
    operationTimeout: options.duration(
      'operationTimeout',
      input.operationTimeout,
      defaults.operationTimeout,
      { min: 1 },
    ),
    heartbeat: Math.ceil(options.duration('heartbeat', input.heartbeat, defaults.heartbeat) / 1000),
    reconnect: options.backoff('reconnect', input.reconnect, defaults.reconnect),
    publishTimeout: options.duration('publishTimeout', input.publishTimeout, defaults.publishTimeout, {
      min: 1,
    }),
    maxInFlight: options.integer('maxInFlight', input.maxInFlight, defaults.maxInFlight, { min: 1 }),
    publishConnections: options.integer(
      'publishConnections',
      input.publishConnections,
      defaults.publishConnections,
      { min: 1, max: MAX_PUBLISHERS },
    ),
    publishChannels: options.integer('publishChannels', input.publishChannels, defaults.publishChannels, {
      min: 1,
      max: MAX_PUBLISHERS,
    }),
    buffer: {
      maxMessages: options.integer('buffer.maxMessages', buffer.maxMessages, defaults.buffer.maxMessages, {
        min: 1,
      }),
      maxBytes: options.integer('buffer.maxBytes', buffer.maxBytes, defaults.buffer.maxBytes, { min: 1 }),
      whenDisconnected: options.oneOf(
        'buffer.whenDisconnected',
        buffer.whenDisconnected,
        defaults.buffer.whenDisconnected,
        ['wait', 'reject'],
      ),
    },
    maxMessageBytes: options.integer('maxMessageBytes', input.maxMessageBytes, defaults.maxMessageBytes, {
      min: 1,
    }),
    deliveryLimit: options.integer('deliveryLimit', input.deliveryLimit, defaults.deliveryLimit, { min: 1 }),
    maxDelay: options.duration('maxDelay', input.maxDelay, defaults.maxDelay, { min: 1 }),
    statsInterval: options.duration('statsInterval', input.statsInterval, defaults.statsInterval),
    logger: logger as Logger | undefined,
  }
}

/** What {@link resolveUrls} returns for `'memory:'`. */
const MEMORY: readonly string[] = Object.freeze([MEMORY_URL])

/** At most this many nodes in a `url` list. */
const MAX_NODES = 64

/** `url` checked: `'memory:'`, one URL, or a non-empty list of URLs (the nodes of one cluster). */
function resolveUrls(url: unknown): readonly string[] {
  if (!Array.isArray(url)) {
    const one = resolveUrl(url, 'url')
    return one === MEMORY_URL ? MEMORY : [one]
  }
  const list: readonly unknown[] = url
  if (list.length === 0 || list.length > MAX_NODES)
    options.fail(
      `url as a list names the nodes of one RabbitMQ cluster: 1-${MAX_NODES} amqp:// or amqps:// URLs, got ${list.length}`,
    )
  return list.map((item, i) => {
    if (item === MEMORY_URL)
      options.fail(
        `url[${i}] is '${MEMORY_URL}': the in-process transport is a url of its own, not a node of a list`,
      )
    return resolveUrl(item, `url[${i}]`)
  })
}

/** One URL checked: `'memory:'`, or an `amqp://`/`amqps://` URL that parses. Never a default. */
function resolveUrl(url: unknown, name: string): string {
  // A `fail` inside a helper does not narrow here: each branch returns or throws.
  const how = `an amqp:// or amqps:// URL of RabbitMQ (amqp://user:password@host:5672/vhost), or '${MEMORY_URL}' for the in-process transport (not durable, one process: tests and a first run)`
  if (url === undefined || url === null || url === '')
    options.fail(
      `${name} is required: ${how}; got ${describeValue(url)} (if it comes from an environment variable, is that variable set?)`,
    )
  if (url === MEMORY_URL) return url
  if (typeof url !== 'string' || !/^amqps?:\/\//i.test(url))
    return options.fail(`${name} must be ${how}; got ${describeUrl(url)}`)
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    const list = /,\s*amqps?:\/\//i.test(url)
      ? " (several nodes' URLs in one string: pass them as a list, e.g. value.split(','))"
      : ''
    throw new QueueOptionsError(`${name} is not a valid URL: ${describeUrl(url)}${list}`, { cause: error })
  }
  if (parsed.hostname === '') options.fail(`${name} names no host: ${describeUrl(url)}`)
  return url
}

/** A URL for an error message, without its password. */
export function describeUrl(url: unknown): string {
  if (typeof url !== 'string') return describeValue(url)
  return JSON.stringify(url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@').slice(0, 200))
}

/** `declare` checked and flattened to `[type, group]` pairs. */
function resolveDeclare(input: unknown): (readonly [string, string])[] {
  if (input === undefined) return []
  const declared = options.group('declare', input as Record<string, unknown>)
  const pairs: (readonly [string, string])[] = []
  for (const [type, groups] of Object.entries(declared)) {
    if (type.length > 120 || !MESSAGE_NAME.test(type))
      options.fail(
        `declare: ${describeValue(type)} is not a message type name (dot-separated words of [A-Za-z0-9_-])`,
      )
    if (!Array.isArray(groups) || groups.length === 0)
      options.fail(
        `declare['${type}'] must be a non-empty array of group names, got ${describeValue(groups)}`,
      )
    for (const group of groups as unknown[]) {
      if (typeof group !== 'string' || !GROUP_NAME.test(group))
        return options.fail(
          `declare['${type}'] holds ${describeValue(group)}: a group is 1-64 characters of [A-Za-z0-9_-]`,
        )
      pairs.push([type, group])
    }
  }
  return pairs
}

/** Applies defaults and validates consume options; throws `QueueArgumentError` naming the option. */
export function resolveConsumeOptions(
  input: ConsumeOptions,
  queue: ResolvedQueueOptions,
): ResolvedConsumeOptions {
  const check = argumentChecks
  const given: unknown = input
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    check.fail(`consume needs options with a group, got ${describeValue(given)}`)
  const { group } = input
  if (typeof group !== 'string' || !GROUP_NAME.test(group)) {
    check.fail(`group must be 1-64 characters of [A-Za-z0-9_-], got ${describeValue(group)}`)
  }
  const concurrency = check.integer('concurrency', input.concurrency, defaults.consume.concurrency, {
    min: 1,
  })
  const prefetch = check.integer('prefetch', input.prefetch, concurrency, { min: 1 })
  if (prefetch < concurrency) check.fail(`prefetch (${prefetch}) must be >= concurrency (${concurrency})`)
  const backoff = check.backoff('backoff', input.backoff, defaults.consume.backoff)
  if (backoff.max > queue.maxDelay)
    check.fail(`backoff.max (${backoff.max} ms) must be <= the queue's maxDelay (${queue.maxDelay} ms)`)
  const dedup: unknown = input.dedup
  const store = dedup as Partial<DedupStore> | null
  if (
    dedup !== undefined &&
    (typeof store !== 'object' ||
      store === null ||
      typeof store.claim !== 'function' ||
      typeof store.complete !== 'function' ||
      typeof store.release !== 'function')
  ) {
    check.fail('dedup must be a DedupStore (claim, complete, release)')
  }
  const nonRetryable = input.nonRetryable ?? ((): boolean => false)
  if (typeof nonRetryable !== 'function') check.fail('nonRetryable must be a function')
  return {
    group,
    concurrency,
    prefetch,
    attempts: check.integer('attempts', input.attempts, defaults.consume.attempts, { min: 1 }),
    backoff,
    handlerTimeout: check.duration('handlerTimeout', input.handlerTimeout, defaults.consume.handlerTimeout, {
      min: 1,
    }),
    nonRetryable,
    dedup: dedup as DedupStore | undefined,
  }
}
