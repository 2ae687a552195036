import type { CloseOptions, Closeable, Duration, HealthSnapshot, HealthStatus } from '@scalekit/internal'
import { CloseGate, createWarner, describeValue, isPromiseLike } from '@scalekit/internal'
import type { Warner } from '@scalekit/internal'
import type { DeadLetterReason, QueuePublishContext } from './channels'
import { channels } from './channels'
import { childTraceparent, getContext, isTraceparent } from './context'
import { ConsumerRunner } from './consumer'
import type { Handler } from './handler'
import { AmqpTransport } from './drivers/amqp/transport'
import { MemoryTransport } from './drivers/memory/transport'
import type {
  ConnectedNodes,
  ConnectionState,
  Envelope,
  GroupStats,
  Send,
  Subscription,
  Target,
  Transport,
  TransportHealth,
} from './drivers/transport'
import {
  QueueArgumentError,
  QueueClosedError,
  QueueMessageTooLargeError,
  QueueValidationError,
} from './errors'
import type { MessageType } from './message'
import { describeIssues } from './message'
import { uuidv7 } from './internal/ids'
import type { StandardSchemaV1 } from './standard-schema'
import type { ConsumeOptions, QueueOptions, ResolvedQueueOptions } from './options'
import { argumentChecks, resolveConsumeOptions, resolveQueueOptions } from './options'
import { encodePayload, isPlainJson } from './payload'
import { checkType, contextCorrelationId, resolvePublishOptions } from './publish-options'
import type { ResolvedPublish } from './publish-options'

/** Per-call options of `publish`. */
export interface PublishOptions {
  /** Deliver after this long — ms or a string such as `'30s'` (through the broker's delay ladder; at most `maxDelay`). @default 0 */
  delay?: Duration
  /** The message id consumers deduplicate on; pass your own to make a re-publish idempotent. @default a new UUIDv7 (random, ordered by time) */
  messageId?: string
  /** @default the current context's, else none (the consumer sees the message id) */
  correlationId?: string
  /** @default a child of the current context's traceparent, else none (the consumer starts the message's trace) */
  traceparent?: string
}

/** What a confirmed publish returns. */
export interface PublishReceipt {
  readonly messageId: string
}

/** A running consumer: `close()` drains it like `queue.close()` does, then detaches it. */
export interface Consumer extends Closeable {
  /** Resolves once attached to its queue; rejects (e.g. `ERR_QUEUE_TOPOLOGY_MISMATCH`) if it cannot be. */
  readonly ready: Promise<void>
  /** Whether deliveries flow now. */
  readonly attached: boolean
  /**
   * Stops taking messages, lets running handlers finish within `timeout` (default `'10s'`), returns
   * the rest to the queue, then detaches. Never rejects because of the timeout; a second call
   * returns the first call's promise.
   */
  close(options?: CloseOptions): Promise<void>
}

/** One consumer in a health snapshot. */
export interface ConsumerHealth {
  readonly type: string
  readonly group: string
  /** Attached to its queue with deliveries flowing: false while reconnecting or after a failure. */
  readonly attached: boolean
  /** Handlers running now. */
  readonly active: number
}

/**
 * A cheap synchronous snapshot (no I/O), for a readiness probe. `status`: `ok` — connected (or not
 * needed yet) and every consumer attached; `degraded` — serving, with the broker away or blocking
 * (publishes are buffered) or a consumer detached; `down` — publishes are refused at once (the
 * buffer is full, or the broker is away under `whenDisconnected: 'reject'`); `closed`.
 */
export interface QueueHealth extends HealthSnapshot {
  readonly status: HealthStatus
  /** Which transport runs: `amqp` (RabbitMQ, durable) or `memory` (in-process, `url: 'memory:'`). */
  readonly transport: 'amqp' | 'memory'
  /**
   * The broker connection: `idle` until the first publish or consume opens it; `failed` once the
   * broker refused the login or the vhost (not retried: see `error`). The memory transport is
   * always `connected`.
   */
  readonly connection: ConnectionState
  /** Why the last connection attempt failed, while it is not connected (`code` and a message saying what to check); `undefined` when connected. */
  readonly error: { readonly code: string; readonly message: string } | undefined
  /** The broker is refusing publishes (memory or disk alarm). */
  readonly blocked: boolean
  /** Publishes waiting for the connection or the confirm window. */
  readonly buffered: number
  readonly bufferedBytes: number
  /** Publishes sent and awaiting their confirm. */
  readonly inFlight: number
  /**
   * The broker nodes (`host:port`) the connections are open to — which node of a cluster
   * (`url` as a list) serves this client now: `consume` for the connection that declares and
   * consumes, `publish` for each publishing connection (each fails over on its own). Empty while
   * not connected and for the memory transport.
   */
  readonly nodes: ConnectedNodes
  readonly consumers: readonly ConsumerHealth[]
}

/** A dead-lettered message, as {@link Queue.takeDeadLetters} returns it. */
export interface DeadLetterMessage {
  readonly messageId: string
  readonly type: string
  readonly group: string
  /** Why: attempts exhausted (`failed`), `non-retryable`, `invalid` (schema), `undecodable`, or over the broker's `delivery-limit`. */
  readonly reason: DeadLetterReason
  readonly attempts: number
  /** The last error's message, if any. */
  readonly error: string | undefined
  readonly publishedAt: Date
  /** The correlation id it was published with, `''` when none. */
  readonly correlationId: string
  /** The payload as published (parsed JSON, not validated); `undefined` when it is not JSON. */
  readonly payload: unknown
}

/** Options of {@link Queue.takeDeadLetters}. */
export interface TakeDeadLettersOptions {
  /** At most this many (1–10 000). @default 100 */
  max?: number
}

/** A queue client: publish typed messages, consume them in groups, close gracefully. */
export interface Queue extends Closeable {
  /** Validates, sends and resolves once the broker has confirmed it (persisted and routed). */
  publish<I, O>(type: MessageType<I, O>, payload: I, options?: PublishOptions): Promise<PublishReceipt>
  /** Starts a consumer of `type` in `options.group`; returns at once, see `Consumer.ready`. */
  consume<I, O>(type: MessageType<I, O>, handler: Handler<O>, options: ConsumeOptions): Consumer
  /** The state of the connection, the publish buffer and the consumers: synchronous, no I/O. */
  health(): QueueHealth
  /**
   * Asks the broker for the depth and consumer count of every group queue this client consumes
   * from (an autoscaling signal; the same figures go out on `scalekit:queue:depth`).
   */
  groupStats(): Promise<GroupStats[]>
  /**
   * Removes and returns up to `max` of `group`'s dead letters, oldest first — from the group's
   * dead-letter queue on RabbitMQ (`<app>.<group>:dead-letter`), from memory otherwise. Republish
   * what should run again; what is not taken stays.
   */
  takeDeadLetters(group: string, options?: TakeDeadLettersOptions): Promise<DeadLetterMessage[]>
  /**
   * Stops taking messages (new calls reject with `ERR_QUEUE_CLOSED`), lets running handlers and
   * pending publishes finish within `timeout` (default `'10s'`), returns unhandled messages to the
   * queue and rejects unconfirmed publishes with `ERR_QUEUE_CLOSED`, then disconnects. Never
   * rejects because of the timeout; a second call returns the first call's promise.
   */
  close(options?: CloseOptions): Promise<void>
}

/**
 * Creates a queue client: RabbitMQ for an `amqp://` url (connecting lazily, reconnecting by
 * itself), the in-process transport with the same semantics for `url: 'memory:'`. There is no
 * default: a missing url is refused, so an unset variable never means a broker that loses
 * everything on restart.
 * @throws QueueOptionsError when an option is invalid (or `url` is missing).
 */
export function createQueue(options: QueueOptions): Queue {
  const resolved = resolveQueueOptions(options)
  const warner = createWarner('queue', resolved.logger)
  const transport: Transport =
    resolved.transport === 'memory'
      ? new MemoryTransport(resolved.app, resolved.deliveryLimit, resolved.declare, warner)
      : new AmqpTransport(resolved, warner)
  return new QueueClient(resolved, transport, warner)
}

/** The target of every `publish` (shared: it carries no per-message state). */
const TYPE_TARGET: Target = { kind: 'type' }

/** The consumer `consume` returns; drained once, by its own `close()` or the queue's. */
class RunningConsumer implements Consumer {
  readonly type: string
  readonly group: string
  readonly runner: ConsumerRunner<unknown>
  readonly #subscription: Subscription
  readonly #onClosed: (consumer: RunningConsumer) => void
  readonly #gate: CloseGate = new CloseGate(QueueArgumentError, (timeoutMs) =>
    this.drain(Date.now() + timeoutMs),
  )
  #drained: Promise<void> | undefined

  constructor(
    type: string,
    group: string,
    runner: ConsumerRunner<unknown>,
    subscription: Subscription,
    onClosed: (consumer: RunningConsumer) => void,
  ) {
    this.type = type
    this.group = group
    this.runner = runner
    this.#subscription = subscription
    this.#onClosed = onClosed
  }

  get ready(): Promise<void> {
    return this.#subscription.ready
  }

  get attached(): boolean {
    return this.#subscription.attached
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Drains until `deadline` (once: a second call returns the first drain). */
  drain(deadline: number): Promise<void> {
    this.#drained ??= this.runner.drain(deadline).finally(() => {
      this.#onClosed(this)
    })
    return this.#drained
  }
}

class QueueClient implements Queue {
  readonly #options: ResolvedQueueOptions
  readonly #transport: Transport
  readonly #consumers = new Set<RunningConsumer>()
  readonly #gate: CloseGate = new CloseGate(QueueArgumentError, (timeoutMs) =>
    this.#close(Date.now() + timeoutMs),
  )
  readonly #warner: Warner
  #statsTimer: NodeJS.Timeout | undefined

  constructor(options: ResolvedQueueOptions, transport: Transport, warner: Warner) {
    this.#options = options
    this.#transport = transport
    this.#warner = warner
  }

  /**
   * Not `async`: with a synchronous validator (zod, valibot, arktype) a publish costs the
   * transport's one promise; an async validator adds its own.
   */
  publish<I, O>(type: MessageType<I, O>, payload: I, options?: PublishOptions): Promise<PublishReceipt> {
    try {
      if (this.#gate.closed) throw new QueueClosedError('the queue is closed')
      checkType(type, 'publish')
      const call = resolvePublishOptions(options, this.#options.maxDelay)
      const encoded = encodePayload(type.name, payload)
      if (encoded.body.length > this.#options.maxMessageBytes) {
        throw new QueueMessageTooLargeError(
          `${type.name} payload is ${encoded.body.length} bytes, over maxMessageBytes (${this.#options.maxMessageBytes})`,
        )
      }
      // What the consumer will validate is the JSON it parses, not the object given here (a Date
      // arrives as a string, a Set as {}): validate that, so what passes here passes there. A
      // payload that JSON gives back unchanged is validated as it is, without parsing its text.
      const decoded: unknown = isPlainJson(payload) ? payload : JSON.parse(encoded.text)
      const validated = type.schema['~standard'].validate(decoded)
      if (isPromiseLike(validated))
        return Promise.resolve(validated).then((result) => this.#send(type, encoded.body, call, result))
      return this.#send(type, encoded.body, call, validated)
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
  }

  #send<I, O>(
    type: MessageType<I, O>,
    body: Buffer,
    options: ResolvedPublish,
    result: StandardSchemaV1.Result<O>,
  ): Promise<PublishReceipt> {
    if (result.issues !== undefined) {
      throw new QueueValidationError(
        `payload of ${type.name} is invalid as the consumer will decode it (JSON): ${describeIssues(result.issues)}`,
        { issues: result.issues },
      )
    }
    const delayMs = options.delayMs
    const current = getContext()
    const publishedAt = Date.now()
    const envelope: Envelope = {
      // A generated id is a UUIDv7: it carries `publishedAt`, so the broker needs no header for it.
      messageId: options.messageId ?? uuidv7(publishedAt),
      type: type.name,
      body,
      publishedAt,
      // '' = none: the consumer falls back to the message id and the message's own trace.
      correlationId: options.correlationId ?? contextCorrelationId(current?.correlationId),
      traceparent: options.traceparent ?? childTraceparent(current?.traceparent),
      attempt: 1,
    }
    const send: Send = {
      envelope,
      target: TYPE_TARGET,
      delayMs,
      deadline: publishedAt + this.#options.publishTimeout,
    }
    if (!channels.publish.hasSubscribers) return this.#transport.send(send)
    const ctx: QueuePublishContext = {
      type: type.name,
      messageId: envelope.messageId,
      bytes: body.length,
      delayMs,
      traceparent: envelope.traceparent,
    }
    return channels.publish.tracePromise(async () => {
      try {
        // A subscriber's `start` may have put its own span's traceparent here.
        const { traceparent } = ctx
        const replaced =
          traceparent !== envelope.traceparent && (traceparent === '' || isTraceparent(traceparent))
        return await this.#transport.send(
          replaced ? { ...send, envelope: { ...envelope, traceparent } } : send,
        )
      } catch (error) {
        ctx.code = (error as { code?: string }).code ?? 'unknown'
        throw error
      }
    }, ctx)
  }

  consume<I, O>(type: MessageType<I, O>, handler: Handler<O>, options: ConsumeOptions): Consumer {
    if (this.#gate.closed) throw new QueueClosedError('the queue is closed')
    checkType(type, 'consume')
    if (typeof handler !== 'function')
      throw new QueueArgumentError(`consume needs a handler function, got ${describeValue(handler)}`)
    const resolved = resolveConsumeOptions(options, this.#options)
    const runner = new ConsumerRunner<O>(type, handler, {
      transport: this.#transport,
      options: resolved,
      publishTimeout: this.#options.publishTimeout,
      warner: this.#warner,
    })
    const subscription = runner.start()
    subscription.ready.catch(() => undefined)
    const consumer = new RunningConsumer(
      type.name,
      resolved.group,
      runner as ConsumerRunner<unknown>,
      subscription,
      (closed) => this.#consumers.delete(closed),
    )
    this.#consumers.add(consumer)
    this.#startStats()
    return consumer
  }

  health(): QueueHealth {
    const t = this.#transport.health()
    const consumers = [...this.#consumers].map((c) => ({
      type: c.type,
      group: c.group,
      attached: c.attached,
      active: c.runner.active,
    }))
    return {
      status: this.#status(t, consumers),
      transport: this.#options.transport,
      connection: t.connection,
      error: t.error,
      blocked: t.blocked,
      buffered: t.buffered,
      bufferedBytes: t.bufferedBytes,
      inFlight: t.inFlight,
      nodes: t.nodes,
      consumers,
    }
  }

  #status(t: TransportHealth, consumers: readonly ConsumerHealth[]): HealthStatus {
    if (this.#gate.closed) return 'closed'
    const attached = consumers.every((c) => c.attached)
    if ((t.connection === 'connected' || t.connection === 'idle') && !t.blocked && attached) return 'ok'
    if (t.refusing || t.connection === 'failed') return 'down'
    return 'degraded'
  }

  async groupStats(): Promise<GroupStats[]> {
    const mine = new Set([...this.#consumers].map((c) => `${c.type}\0${c.group}`))
    return (await this.#transport.groupStats()).filter((s) => mine.has(`${s.type}\0${s.group}`))
  }

  async takeDeadLetters(group: string, options: TakeDeadLettersOptions = {}): Promise<DeadLetterMessage[]> {
    if (this.#gate.closed) throw new QueueClosedError('the queue is closed')
    if (typeof group !== 'string' || !GROUP.test(group))
      throw new QueueArgumentError(
        `group must be 1-64 characters of [A-Za-z0-9_-], got ${JSON.stringify(group)}`,
      )
    const max = argumentChecks.integer('max', argumentChecks.group('options', options).max, 100, {
      min: 1,
      max: 10_000,
    })
    const records = await this.#transport.takeDeadLetters(group, max)
    return records.map((r) => ({
      messageId: r.envelope.messageId,
      type: r.envelope.type,
      group: r.group,
      reason: r.reason,
      attempts: r.attempts,
      error: r.error,
      publishedAt: new Date(r.envelope.publishedAt),
      correlationId: r.envelope.correlationId,
      payload: parsePayload(r.envelope.body),
    }))
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #close(deadline: number): Promise<void> {
    clearInterval(this.#statsTimer)
    await Promise.all([...this.#consumers].map(async (c) => c.drain(deadline)))
    await this.#transport.close(deadline)
  }

  #startStats(): void {
    if (this.#statsTimer !== undefined || this.#options.statsInterval === 0) return
    this.#statsTimer = setInterval(() => {
      if (!channels.depth.hasSubscribers) return
      this.groupStats().then(
        (all) => {
          for (const s of all) channels.depth.publish(s)
        },
        () => undefined,
      )
    }, this.#options.statsInterval)
    this.#statsTimer.unref()
  }
}

/** A group name, as `consume` accepts it. */
const GROUP = /^[A-Za-z0-9_-]{1,64}$/

/** The payload of a dead letter, for people: parsed JSON, or `undefined`. */
function parsePayload(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown
  } catch {
    return undefined
  }
}
