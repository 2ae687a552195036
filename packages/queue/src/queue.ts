import type { QueuePublishContext } from './channels'
import { channels } from './channels'
import { childTraceparent, getContext, isTraceparent } from './context'
import { ConsumerRunner } from './consumer'
import type { Handler } from './handler'
import { AmqpTransport } from './drivers/amqp/transport'
import { MemoryTransport } from './drivers/memory/transport'
import type { Envelope, GroupStats, Send, Subscription, Target, Transport } from './drivers/transport'
import { QueueClosedError, QueueMessageTooLargeError, QueueOptionsError, QueueValidationError } from './errors'
import type { MessageType } from './message'
import { describeIssues, isPromiseLike } from './message'
import { uuidv7 } from './internal/ids'
import type { StandardSchemaV1 } from './standard-schema'
import type { ConsumeOptions, QueueOptions, ResolvedQueueOptions } from './options'
import { resolveConsumeOptions, resolveQueueOptions } from './options'

/** Per-call options of `publish`. */
export interface PublishOptions {
  /** Deliver after this many ms (through the broker's delay ladder; at most `maxDelay`). @default 0 */
  delay?: number
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

/** A running consumer. */
export interface Consumer {
  /** Resolves once attached to its queue; rejects (e.g. `ERR_QUEUE_TOPOLOGY_MISMATCH`) if it cannot be. */
  readonly ready: Promise<void>
  /** Whether deliveries flow now. */
  readonly attached: boolean
  /** Drains this consumer like `queue.close()` does, and detaches it. */
  close(): Promise<void>
}

/** One consumer in a health report. */
export interface ConsumerHealth {
  readonly type: string
  readonly group: string
  /** Attached to its queue with deliveries flowing: false while reconnecting or after a failure. */
  readonly attached: boolean
  /** Handlers running now. */
  readonly active: number
}

/** A health report, for a readiness probe. */
export interface QueueHealth {
  /** Connected, not blocked, and every consumer attached. */
  readonly ok: boolean
  readonly connected: boolean
  /** The broker is refusing publishes (memory or disk alarm). */
  readonly blocked: boolean
  /** Publishes waiting for the connection or the confirm window. */
  readonly buffered: number
  readonly bufferedBytes: number
  /** Publishes sent and awaiting their confirm. */
  readonly inFlight: number
  readonly consumers: readonly ConsumerHealth[]
}

/** A queue client: publish typed messages, consume them in groups, close gracefully. */
export interface Queue {
  /** Validates, sends and resolves once the broker has confirmed it (persisted and routed). */
  publish<I, O>(type: MessageType<I, O>, payload: I, options?: PublishOptions): Promise<PublishReceipt>
  /** Starts a consumer of `type` in `options.group`; returns at once, see `Consumer.ready`. */
  consume<I, O>(type: MessageType<I, O>, handler: Handler<O>, options: ConsumeOptions): Consumer
  /** The state of the connection and consumers. */
  health(): QueueHealth
  /** Depth and consumer count of every group queue this client consumes from (an autoscaling signal). */
  stats(): Promise<GroupStats[]>
  /**
   * Stops taking messages, lets running handlers and pending publishes finish within
   * `drainTimeout`, returns the rest to the queue, then disconnects. Idempotent.
   */
  close(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/**
 * Creates a queue client: RabbitMQ when `url` is set (connecting lazily, reconnecting by itself),
 * else the in-memory transport with the same semantics.
 * @throws QueueOptionsError when an option is invalid.
 */
export function createQueue(options: QueueOptions = {}): Queue {
  const resolved = resolveQueueOptions(options)
  const transport: Transport = resolved.url === undefined ? new MemoryTransport(resolved.app, resolved.deliveryLimit) : new AmqpTransport(resolved)
  return new QueueClient(resolved, transport)
}

/** The options of a publish without options (shared: no object per call). */
const NO_OPTIONS: PublishOptions = Object.freeze({})

/** The target of every `publish` (shared: it carries no per-message state). */
const TYPE_TARGET: Target = { kind: 'type' }

interface Running {
  readonly type: string
  readonly group: string
  readonly runner: ConsumerRunner<unknown>
  readonly subscription: Subscription
}

class QueueClient implements Queue {
  readonly #options: ResolvedQueueOptions
  readonly #transport: Transport
  readonly #consumers = new Set<Running>()
  #closing: Promise<void> | undefined
  #statsTimer: NodeJS.Timeout | undefined

  constructor(options: ResolvedQueueOptions, transport: Transport) {
    this.#options = options
    this.#transport = transport
  }

  /**
   * Not `async`: with a synchronous validator (zod, valibot, arktype) a publish costs the
   * transport's one promise; an async validator adds its own.
   */
  publish<I, O>(type: MessageType<I, O>, payload: I, options: PublishOptions = NO_OPTIONS): Promise<PublishReceipt> {
    try {
      if (this.#closing !== undefined) throw new QueueClosedError('the queue is closed')
      const delayMs = options.delay ?? 0
      if (typeof delayMs !== 'number' || !(delayMs >= 0) || delayMs > this.#options.maxDelay) {
        throw new QueueOptionsError(`delay must be between 0 and maxDelay (${this.#options.maxDelay} ms), got ${String(delayMs)}`)
      }
      const messageId = options.messageId
      if (messageId !== undefined && (typeof messageId !== 'string' || messageId === '' || messageId.length > 200)) {
        throw new QueueOptionsError('messageId must be a non-empty string of at most 200 characters')
      }
      const validated = type.schema['~standard'].validate(payload)
      if (isPromiseLike(validated)) return Promise.resolve(validated).then((result) => this.#send(type, payload, options, delayMs, result))
      return this.#send(type, payload, options, delayMs, validated)
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
  }

  #send<I, O>(type: MessageType<I, O>, payload: I, options: PublishOptions, delayMs: number, result: StandardSchemaV1.Result<O>): Promise<PublishReceipt> {
    if (result.issues !== undefined) {
      throw new QueueValidationError(`payload of ${type.name} is invalid: ${describeIssues(result.issues)}`, { issues: result.issues })
    }
    // The input is sent, not the schema's output: the consumer validates (and transforms) it again.
    const body = Buffer.from(JSON.stringify(payload), 'utf8')
    if (body.length > this.#options.maxMessageBytes) {
      throw new QueueMessageTooLargeError(`${type.name} payload is ${body.length} bytes, over maxMessageBytes (${this.#options.maxMessageBytes})`)
    }
    const current = getContext()
    const publishedAt = Date.now()
    const envelope: Envelope = {
      // A generated id is a UUIDv7: it carries `publishedAt`, so the broker needs no header for it.
      messageId: options.messageId ?? uuidv7(publishedAt),
      type: type.name,
      body,
      publishedAt,
      // '' = none: the consumer falls back to the message id and the message's own trace.
      correlationId: options.correlationId ?? current?.correlationId ?? '',
      traceparent: isTraceparent(options.traceparent) ? options.traceparent : childTraceparent(current?.traceparent),
      attempt: 1,
    }
    const send: Send = { envelope, target: TYPE_TARGET, delayMs: Math.round(delayMs), deadline: publishedAt + this.#options.publishTimeout }
    if (!channels.publish.hasSubscribers) return this.#transport.send(send)
    const ctx: QueuePublishContext = { type: type.name, messageId: envelope.messageId, bytes: body.length, delayMs }
    return channels.publish.tracePromise(async () => {
      try {
        return await this.#transport.send(send)
      } catch (error) {
        ctx.code = (error as { code?: string }).code ?? 'unknown'
        throw error
      }
    }, ctx)
  }

  consume<I, O>(type: MessageType<I, O>, handler: Handler<O>, options: ConsumeOptions): Consumer {
    if (this.#closing !== undefined) throw new QueueClosedError('the queue is closed')
    if (typeof handler !== 'function') throw new QueueOptionsError('consume needs a handler function')
    const resolved = resolveConsumeOptions(options, this.#options)
    const runner = new ConsumerRunner<O>(type, handler, { transport: this.#transport, options: resolved, publishTimeout: this.#options.publishTimeout })
    const subscription = runner.start()
    const running: Running = { type: type.name, group: resolved.group, runner: runner as ConsumerRunner<unknown>, subscription }
    this.#consumers.add(running)
    subscription.ready.catch(() => undefined)
    this.#startStats()
    return {
      ready: subscription.ready,
      get attached() {
        return subscription.attached
      },
      close: async () => {
        this.#consumers.delete(running)
        await runner.drain(Date.now() + this.#options.drainTimeout)
      },
    }
  }

  health(): QueueHealth {
    const t = this.#transport.health()
    const consumers = [...this.#consumers].map((c) => ({ type: c.type, group: c.group, attached: c.subscription.attached, active: c.runner.active }))
    const ok = t.connected && !t.blocked && consumers.every((c) => c.attached) && this.#closing === undefined
    return { ok, ...t, consumers }
  }

  async stats(): Promise<GroupStats[]> {
    const mine = new Set([...this.#consumers].map((c) => `${c.type}\0${c.group}`))
    return (await this.#transport.stats()).filter((s) => mine.has(`${s.type}\0${s.group}`))
  }

  async close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #close(): Promise<void> {
    clearInterval(this.#statsTimer)
    const deadline = Date.now() + this.#options.drainTimeout
    const consumers = [...this.#consumers]
    this.#consumers.clear()
    await Promise.all(consumers.map(async (c) => c.runner.drain(deadline)))
    await this.#transport.close(deadline)
  }

  #startStats(): void {
    if (this.#statsTimer !== undefined || this.#options.statsInterval === 0) return
    this.#statsTimer = setInterval(() => {
      if (!channels.depth.hasSubscribers) return
      this.stats().then(
        (all) => {
          for (const s of all) channels.depth.publish(s)
        },
        () => undefined,
      )
    }, this.#options.statsInterval)
    this.#statsTimer.unref()
  }
}
