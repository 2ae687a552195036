import type { DeadLetterReason, QueueConsumeContext } from './channels'
import { channels } from './channels'
import { runInContext } from './context'
import { messageTraceparent } from './internal/ids'
import type { Delivery, Envelope, Subscription, Transport } from './drivers/transport'
import { dedupKey } from './dedup'
import { NonRetryableError, QueueHandlerTimeoutError, timedOut } from './errors'
import { Attempt } from './handler'
import type { Handler, MessageContext } from './handler'
import { backoffDelay, DeadlineSweep, isPromiseLike } from '@scalekit/internal'
import type { Warner } from '@scalekit/internal'
import { deferred } from './internal/deferred'
import { errorCode, errorMessage } from './internal/describe'
import { settledWithin } from './internal/settled'
import type { MessageType } from './message'
import type { ResolvedConsumeOptions } from './options'

/** Extra time a dedup claim outlives the handler timeout, so a slow store write cannot free it early. */
const LEASE_MARGIN_MS = 5_000
/** Upper bound of a dedup store call (the Redis store has its own, shorter, timeout). */
const STORE_TIMEOUT_MS = 5_000
/** Retry delay when another consumer holds the dedup claim of this message. */
const BUSY_RETRY_MS = 1_000

interface RunnerDeps {
  readonly transport: Transport
  readonly options: ResolvedConsumeOptions
  readonly publishTimeout: number
  /** Where handler failures and dead-letters are reported, once per episode. */
  readonly warner: Warner
}

/**
 * Runs one consumer: up to `concurrency` handlers at once, ack after success, retries through the
 * transport's delay ladder, dead-letters with the reason, dedup, drain on close.
 */
export class ConsumerRunner<O> {
  readonly #type: MessageType<unknown, O>
  readonly #handler: Handler<O>
  readonly #deps: RunnerDeps
  readonly #pending: Delivery[] = []
  readonly #running = new Map<Delivery, Attempt>()
  /** Handler and dedup-store deadlines, swept by one timer (not a setTimeout per message). */
  readonly #deadlines = new DeadlineSweep()
  #subscription: Subscription | undefined
  #stopping = false
  #idle = deferred()

  constructor(type: MessageType<unknown, O>, handler: Handler<O>, deps: RunnerDeps) {
    this.#type = type
    this.#handler = handler
    this.#deps = deps
  }

  /** Subscribes; the subscription re-attaches by itself after reconnects. */
  start(): Subscription {
    const { group, prefetch } = this.#deps.options
    this.#subscription = this.#deps.transport.subscribe({ type: this.#type.name, group, prefetch }, (d) => {
      this.#onDelivery(d)
    })
    return this.#subscription
  }

  /** Handlers running now. */
  get active(): number {
    return this.#running.size
  }

  /**
   * Stops taking messages, returns those not started, waits for running handlers until
   * `deadline`, aborts the rest (their messages go back to the queue), then detaches.
   */
  async drain(deadline: number): Promise<void> {
    this.#stopping = true
    await this.#subscription?.stop().catch(() => undefined)
    for (const d of this.#pending.splice(0)) d.requeue()
    if (this.#running.size > 0) await settledWithin(this.#idle.promise, Math.max(0, deadline - Date.now()))
    for (const [d, attempt] of this.#running) {
      attempt.abort(new Error('queue closed'))
      d.requeue()
    }
    await this.#subscription?.close().catch(() => undefined)
  }

  #onDelivery(d: Delivery): void {
    if (this.#stopping) {
      d.requeue()
      return
    }
    this.#pending.push(d)
    this.#pump()
  }

  #pump(): void {
    while (!this.#stopping && this.#running.size < this.#deps.options.concurrency) {
      const d = this.#pending.shift()
      if (d === undefined) return
      const attempt = new Attempt()
      this.#running.set(d, attempt)
      void this.#run(d, attempt)
    }
  }

  /** One delivery from start to settlement; never rejects. */
  async #run(d: Delivery, attempt: Attempt): Promise<void> {
    const env = d.envelope
    const ctx: QueueConsumeContext = {
      type: env?.type ?? this.#type.name,
      group: this.#deps.options.group,
      messageId: env?.messageId ?? d.rawId,
      attempt: env?.attempt ?? 1,
      latencyMs: env === undefined ? 0 : Math.max(0, Date.now() - env.publishedAt),
      // Made here only for a subscriber; else the handler's context makes it if it runs.
      traceparent:
        env === undefined
          ? ''
          : env.traceparent === '' && channels.consume.hasSubscribers
            ? messageTraceparent(env.messageId)
            : env.traceparent,
    }
    try {
      if (channels.consume.hasSubscribers)
        await channels.consume.tracePromise(async () => this.#handle(d, env, ctx, attempt), ctx)
      else await this.#handle(d, env, ctx, attempt)
    } catch (error) {
      // The transport could not take the retry or dead-letter: back to the queue, redelivered later.
      ctx.outcome = 'requeue'
      ctx.code = errorCode(error)
      if (!attempt.isAborted()) d.requeue()
    } finally {
      this.#running.delete(d)
      if (this.#running.size === 0) {
        this.#idle.resolve(undefined)
        this.#idle = deferred()
      }
      this.#pump()
    }
  }

  async #handle(
    d: Delivery,
    env: Envelope | undefined,
    ctx: QueueConsumeContext,
    attempt: Attempt,
  ): Promise<void> {
    const { options } = this.#deps
    if (env === undefined) {
      await this.#deadLetter(d, undefined, 'undecodable', 1, 'not a message of this package, or corrupt', ctx)
      return
    }
    let raw: unknown
    try {
      raw = JSON.parse(env.body.toString('utf8'))
    } catch (error) {
      await this.#deadLetter(d, env, 'undecodable', env.attempt, errorMessage(error), ctx)
      return
    }
    const validated = this.#type.schema['~standard'].validate(raw)
    const result = isPromiseLike(validated) ? await validated : validated
    if (result.issues !== undefined) {
      await this.#deadLetter(
        d,
        env,
        'invalid',
        env.attempt,
        result.issues.map((i) => i.message).join('; '),
        ctx,
      )
      return
    }
    const dedup = options.dedup
    // One store may serve many consumers: a message id is a duplicate only within one (group, type).
    const key = dedup === undefined ? '' : dedupKey(options.group, this.#type.name, env.messageId)
    if (dedup !== undefined) {
      const claim = await this.#store(dedup.claim(key, options.handlerTimeout + LEASE_MARGIN_MS)).catch(
        (error: unknown) => error,
      )
      if (claim === 'done') {
        this.#settle(d, ctx, 'duplicate')
        return
      }
      if (claim !== 'claimed') {
        // Someone else holds it (or the store is down): look again later, without spending an attempt.
        await this.#retry(d, env, env.attempt, BUSY_RETRY_MS, ctx)
        return
      }
    }
    if (attempt.isAborted()) {
      // close() gave up before the handler started: its message is back in the queue; free the claim.
      if (dedup !== undefined) await this.#store(dedup.release(key)).catch(() => undefined)
      return
    }
    try {
      const running = this.#invoke(result.value, env, d, attempt, ctx.traceparent)
      if (running !== undefined) await running
    } catch (error) {
      if (attempt.isAborted() && this.#stopping) return
      if (dedup !== undefined) await this.#store(dedup.release(key)).catch(() => undefined)
      ctx.code = errorCode(error)
      this.#warnFailed(ctx.code, env.attempt)
      const nonRetryable = error instanceof NonRetryableError || options.nonRetryable(error)
      if (nonRetryable) await this.#deadLetter(d, env, 'non-retryable', env.attempt, errorMessage(error), ctx)
      else if (env.attempt >= options.attempts)
        await this.#deadLetter(d, env, 'failed', env.attempt, errorMessage(error), ctx)
      else await this.#retry(d, env, env.attempt + 1, backoffDelay(options.backoff, env.attempt), ctx)
      return
    }
    if (dedup !== undefined) {
      // The effect ran; if the mark cannot be written a redelivery would run it again, so try twice.
      await this.#store(dedup.complete(key)).catch(async () => this.#store(dedup.complete(key)))
    }
    this.#settle(d, ctx, 'ack')
  }

  /**
   * Runs the handler in the message's context. A handler that returns no promise is done when it
   * returns (or throws): no promise, no deadline. For a promise, the returned one rejects on its
   * error, its timeout, or close() giving up on it.
   */
  #invoke(
    payload: O,
    env: Envelope,
    d: Delivery,
    attempt: Attempt,
    traceparent: string,
  ): Promise<void> | undefined {
    const { options } = this.#deps
    const context = new HandlerContext(
      env,
      options.group,
      options.attempts,
      d.redeliveries > 0,
      attempt,
      traceparent,
    )
    const result = runInContext(context, this.#handler, payload, context)
    if (!isPromiseLike(result)) return undefined
    const deadline = this.#deadlines.add(options.handlerTimeout, () => {
      attempt.abort(
        new QueueHandlerTimeoutError(
          `handler of ${this.#type.name} (group ${options.group}) did not settle within ${options.handlerTimeout} ms`,
        ),
      )
    })
    return new Promise<void>((resolve, reject) => {
      // The handler's rejection reason goes on unchanged, whatever it is.
      const fail: (reason: unknown) => void = reject
      attempt.onAbort = (reason) => {
        deadline.cancel()
        reject(reason)
        const dedup = options.dedup
        if (this.#stopping && dedup !== undefined) {
          // close() gave up on it but it runs on: record its outcome, or a redelivery would run it twice.
          const key = dedupKey(options.group, this.#type.name, env.messageId)
          result
            .then(
              async () => dedup.complete(key),
              async () => dedup.release(key),
            )
            .then(undefined, () => undefined)
        }
      }
      result.then(
        () => {
          deadline.cancel()
          resolve()
        },
        (error: unknown) => {
          deadline.cancel()
          fail(error)
        },
      )
    })
  }

  async #retry(
    d: Delivery,
    env: Envelope,
    attempt: number,
    delayMs: number,
    ctx: QueueConsumeContext,
  ): Promise<void> {
    const deadline = Date.now() + this.#deps.publishTimeout
    await this.#deps.transport.send({
      // The retry goes to this consumer's own type and group, whatever the message says it is.
      envelope: { ...env, type: this.#type.name, attempt },
      target: { kind: 'group', group: this.#deps.options.group },
      delayMs,
      deadline,
    })
    this.#settle(d, ctx, 'retry')
  }

  async #deadLetter(
    d: Delivery,
    env: Envelope | undefined,
    reason: DeadLetterReason,
    attempts: number,
    error: string | undefined,
    ctx: QueueConsumeContext,
  ): Promise<void> {
    const group = this.#deps.options.group
    const envelope: Envelope = env ?? {
      messageId: d.rawId,
      type: this.#type.name,
      body: Buffer.alloc(0),
      publishedAt: Date.now(),
      correlationId: '',
      traceparent: '',
      attempt: attempts,
    }
    await this.#deps.transport.deadLetter({
      envelope,
      group,
      reason,
      attempts,
      error,
      deadline: Date.now() + this.#deps.publishTimeout,
    })
    this.#deps.warner.warn(
      `dead-letter:${group}:${this.#type.name}`,
      { code: 'ERR_QUEUE_DEAD_LETTER', type: this.#type.name, group, reason, attempts },
      `a message of ${this.#type.name} was dead-lettered in group ${group} (${reason}); read it with takeDeadLetters('${group}')`,
    )
    if (channels.deadLetter.hasSubscribers) {
      channels.deadLetter.publish({
        type: envelope.type,
        group,
        messageId: envelope.messageId,
        reason,
        attempts,
        error,
      })
    }
    this.#settle(d, ctx, 'dead-letter')
  }

  /** One warning per minute per (group, type) while handlers fail: the code and attempt, never the payload or message. */
  #warnFailed(code: string, attempt: number): void {
    const { group } = this.#deps.options
    const type = this.#type.name
    this.#deps.warner.warn(
      `handler-failed:${group}:${type}`,
      { code, type, group, attempt, maxAttempts: this.#deps.options.attempts },
      `a handler of ${type} in group ${group} failed (${code}, attempt ${attempt} of ${this.#deps.options.attempts})`,
    )
  }

  /** A dedup store call, bounded like every remote call (a user store may hang). */
  async #store<T>(call: Promise<T>): Promise<T> {
    return this.#deadlines.race(call, STORE_TIMEOUT_MS, timedOut('dedup store', STORE_TIMEOUT_MS))
  }

  /** Acknowledges: the message was handled, retried, or dead-lettered. */
  #settle(d: Delivery, ctx: QueueConsumeContext, outcome: QueueConsumeContext['outcome']): void {
    d.ack()
    ctx.outcome = outcome
  }
}

/**
 * What the handler learns (`MessageContext`), and the context it runs in (`getContext()`): one
 * object per message. Its fields are its own (spread it, log it, serialize it); only `signal` is
 * made on first read — most handlers never read it, and an AbortController per message costs.
 */
class HandlerContext implements MessageContext {
  readonly messageId: string
  readonly type: string
  readonly group: string
  readonly attempt: number
  readonly maxAttempts: number
  readonly redelivered: boolean
  readonly publishedAt: Date
  /** The publisher's, else the message id. */
  readonly correlationId: string
  /** The publisher's, else a hop in the trace the message id names. */
  readonly traceparent: string
  readonly #attempt: Attempt

  /** `traceparent`: the one the consume channel's context carries, `''` when none was made yet. */
  constructor(
    env: Envelope,
    group: string,
    maxAttempts: number,
    redelivered: boolean,
    attempt: Attempt,
    traceparent: string,
  ) {
    this.messageId = env.messageId
    this.type = env.type
    this.group = group
    this.attempt = env.attempt
    this.maxAttempts = maxAttempts
    this.redelivered = redelivered
    this.publishedAt = new Date(env.publishedAt)
    this.correlationId = env.correlationId === '' ? env.messageId : env.correlationId
    this.traceparent = traceparent === '' ? messageTraceparent(env.messageId) : traceparent
    this.#attempt = attempt
  }

  get signal(): AbortSignal {
    return this.#attempt.signal
  }
}
