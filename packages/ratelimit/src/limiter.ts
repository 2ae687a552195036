import {
  CircuitBreaker,
  CloseGate,
  type CloseOptions,
  createWarner,
  DeadlineSweep,
  type HealthSnapshot,
  type RedisClient,
  type Warner,
  withTimeout,
} from '@scalekit/internal'
import type { Algorithm, Outcome } from './algorithms'
import { channels, type DecisionEvent, type DecisionSource, type RateLimitErrorEvent } from './channels'
import { localNowUs, MemoryStore } from './drivers/memory'
import { RedisStore } from './drivers/redis/store'
import type { StoreOutcome } from './drivers/store'
import { RateLimitArgumentError, RateLimitClosedError, RateLimitUnavailableError } from './errors'
import { Blocks } from './internal/blocks'
import { clientFromUrl, refusedByRedis } from './internal/redis-client'
import { type FailurePolicy, type RateLimiterOptions, type ResolvedOptions, resolveOptions } from './options'

/** One decision of {@link RateLimiter.take}. Durations are whole ms, rounded up. */
export interface Decision {
  /** Whether the request may go ahead (its cost was spent). */
  readonly allowed: boolean
  /** Units that could still be spent right now, after this decision. */
  readonly remaining: number
  /** ms until the key is back to its full allowance. */
  readonly resetAfter: number
  /** ms until the same request would be allowed (0 when allowed): the `Retry-After`. */
  readonly retryAfter: number
  /** Who decided: Redis or memory (`store`), the local fast path, or the `onRedisError` policy. */
  readonly source: DecisionSource
}

/** Per-call options of {@link RateLimiter.take}. */
export interface TakeOptions {
  /** Units this request spends: a whole number from 0 (a look that spends nothing) to the burst (or limit). @default 1 */
  readonly cost?: number
}

/** What a limiter enforces, as the `RateLimit-Policy` header states it. */
export interface RateLimitPolicy {
  readonly name: string
  readonly algorithm: Algorithm
  readonly limit: number
  /** The period, ms. */
  readonly period: number
  /** The units an idle key may spend at once (`limit` for the window algorithms). */
  readonly burst: number
}

/** {@link RateLimiter.health}: a synchronous snapshot, no I/O. */
export interface RateLimiterHealth extends HealthSnapshot {
  /** Where the state lives. */
  readonly store: 'redis' | 'memory'
  /** The breaker over Redis (`closed` for the memory store). */
  readonly breaker: 'closed' | 'open' | 'half-open'
  /** What decides while Redis is slow or down. */
  readonly onRedisError: FailurePolicy
}

/** A rate limiter: `take()` decides one request. Made by {@link createRateLimiter}. */
export interface RateLimiter extends AsyncDisposable {
  readonly policy: RateLimitPolicy
  /**
   * Decides one request of `key` (a user id, an API key, an address, a route…): spends its cost and
   * allows it, or refuses it and says when to retry. Never waits on Redis longer than `timeout` and
   * never rejects because of Redis (the `onRedisError` policy decides instead); rejects with
   * `ERR_RATELIMIT_INVALID_ARGUMENT` for a bad key or cost, `ERR_RATELIMIT_CLOSED` after `close()`.
   */
  take(key: string, options?: TakeOptions): Promise<Decision>
  /** A cheap synchronous snapshot: `ok`, `degraded` (Redis failing: the policy decides), `closed`. */
  health(): RateLimiterHealth
  /** Asks Redis for its time (bounded by `timeout`); `degraded` when it does not answer. */
  checkHealth(): Promise<RateLimiterHealth>
  /** Stops taking decisions, lets those in flight finish within the timeout, closes a client it made from a URL (never yours). */
  close(options?: CloseOptions): Promise<void>
}

/**
 * The adapters' way in: `take()`'s decision, as the decision itself when this process made it (memory,
 * the fast path, the policy) and a promise only when it waits on Redis, so an in-memory limiter lets a
 * request go on in the same tick. Throws what `take()` rejects with. Not exported from the package.
 */
export const decideNow: unique symbol = Symbol('decideNow')

/** A limiter with {@link decideNow} (every limiter `createRateLimiter` makes). */
export interface DecidesNow {
  [decideNow](key: string, options: TakeOptions | undefined): Decision | Promise<Decision>
}

/** Keys longer than this are refused: hash long identifiers first (the key helpers do). */
const MAX_KEY_LENGTH = 512

/**
 * Makes a rate limiter. With `redis`, every instance shares each key's state through one Lua script
 * call per decision, on the server's clock; without it, the state is in this process's memory.
 *
 * ```ts
 * const limiter = createRateLimiter({ redis, namespace: 'api', limit: 100, period: '1m', burst: 20 })
 * const { allowed, retryAfter } = await limiter.take(`user:${id}`)
 * ```
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  return new Limiter(resolveOptions(options))
}

class Limiter implements RateLimiter, DecidesNow {
  readonly policy: RateLimitPolicy
  readonly #o: ResolvedOptions
  /** The memory store, or undefined with Redis. */
  readonly #memory: MemoryStore | undefined
  /** Redis's store, or undefined in memory mode. */
  readonly #redis: RedisStore | undefined
  readonly #fallback: MemoryStore | undefined
  readonly #blocks: Blocks | undefined
  readonly #breaker: CircuitBreaker | undefined
  readonly #sweep = new DeadlineSweep()
  readonly #warner: Warner
  readonly #gate: CloseGate
  readonly #prefix: string
  readonly #capacity: number
  #client: Promise<RedisClient> | RedisClient | undefined
  readonly #ownsClient: boolean
  /** A decision failed and none has succeeded since. */
  #failing = false
  #inFlight = 0
  #idle: (() => void) | undefined

  constructor(o: ResolvedOptions) {
    this.#o = o
    this.#capacity = o.params.burst
    this.policy = {
      name: o.name,
      algorithm: o.algorithm,
      limit: o.params.limit,
      period: o.periodMs,
      burst: o.params.burst,
    }
    this.#prefix = `rl:${o.namespace}:${o.algorithm}:`
    this.#warner = createWarner('ratelimit', o.logger)
    this.#gate = new CloseGate(RateLimitArgumentError, (ms) => this.#shutdown(ms))
    this.#ownsClient = typeof o.redis === 'string'
    if (o.redis === undefined) {
      this.#memory = new MemoryStore(o.algorithm, o.params, o.maxKeys)
      return
    }
    if (typeof o.redis !== 'string') this.#client = o.redis
    this.#redis = new RedisStore(() => this.#clientNow(), o.algorithm, o.params)
    if (o.onRedisError === 'local') this.#fallback = new MemoryStore(o.algorithm, o.localParams, o.maxKeys)
    if (o.localBlock)
      this.#blocks = new Blocks(o.maxKeys, o.algorithm === 'gcra' || o.algorithm === 'token-bucket')
    this.#breaker = new CircuitBreaker(o.breaker, (state) => {
      if (channels.breaker.hasSubscribers)
        channels.breaker.publish({ package: 'ratelimit', namespace: o.name, state })
    })
  }

  take(key: string, options?: TakeOptions): Promise<Decision> {
    // Not an async function: a decision on Redis is one promise made here and settled by the reply
    // (or the deadline), with no await between the client's reply and the caller.
    try {
      const decided = this.#decide(key, options)
      return decided instanceof Promise ? decided : Promise.resolve(decided)
    } catch (error) {
      // Unchanged, as an async function's throw: these are the limiter's own coded errors.
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
      return Promise.reject(error)
    }
  }

  [decideNow](key: string, options: TakeOptions | undefined): Decision | Promise<Decision> {
    return this.#decide(key, options)
  }

  /** A decision made here (memory, the fast path, the breaker's policy), or one waiting on Redis. */
  #decide(key: string, options: TakeOptions | undefined): Decision | Promise<Decision> {
    if (this.#gate.closed) throw new RateLimitClosedError(`rate limiter "${this.#o.name}" is closed`)
    const cost = this.#checkArguments(key, options)
    const redis = this.#redis
    if (redis === undefined)
      return this.#publish(fromOutcome((this.#memory as MemoryStore).takeNow(key, cost), 'store'), cost)
    const nowUs = localNowUs()
    if (cost > 0 && this.#blocks !== undefined) {
      const known = this.#blocks.check(key, nowUs)
      if (known.kind === 'empty') {
        return this.#publish(
          {
            allowed: false,
            remaining: 0,
            resetAfter: msOf(known.resetUs - nowUs),
            retryAfter: msOf(known.untilUs - nowUs),
            source: 'fast-path',
          },
          cost,
        )
      }
      if (known.kind === 'probe') {
        // Another request of this process is asking Redis about this key, which had no unit to spare
        // an interval ago: at most one freed up since, and the probe is taking it.
        const interval = this.#o.params.intervalUs
        return this.#publish(
          {
            allowed: false,
            remaining: 0,
            resetAfter: msOf(interval),
            retryAfter: msOf(interval),
            source: 'fast-path',
          },
          cost,
        )
      }
    }
    if (!(this.#breaker as CircuitBreaker).admit()) {
      this.#blocks?.delete(key)
      return this.#byPolicy(key, cost, 0, 'breaker-open', undefined)
    }
    // What the local fallback allowed during an outage goes to Redis with the key's first decision
    // once Redis answers again (not with a trial that may time out and still run later).
    const carry =
      this.#fallback !== undefined && this.#fallback.size > 0 && !this.#failing
        ? this.#fallback.drain(key)
        : 0
    const client = this.#client
    const reply =
      client === undefined || client instanceof Promise
        ? Promise.resolve(this.#clientNow()).then((made) => redis.send(made, this.#prefix + key, cost, carry))
        : redis.send(client, this.#prefix + key, cost, carry)
    this.#inFlight += 1
    return new Promise<Decision>((resolve, reject) => {
      // The reply or the deadline, whichever comes first, makes the decision; the other is dropped.
      // What a logger or a channel subscriber throws goes on unchanged, as from an async function.
      let settled = false
      const settle = (decision: () => Decision): void => {
        if (settled) return
        settled = true
        deadline.cancel()
        try {
          resolve(decision())
        } catch (error) {
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(error)
        }
      }
      const deadline = this.#sweep.add(this.#o.timeoutMs, () => {
        const timedOut = new RateLimitUnavailableError(`Redis did not answer within ${this.#o.timeoutMs} ms`)
        settle(() => this.#failed(key, cost, carry, timedOut))
      })
      reply.then(
        (answer) => {
          settle(() => this.#answered(answer, key, cost, carry, nowUs))
        },
        (error: unknown) => {
          settle(() => this.#failed(key, cost, carry, error))
        },
      )
    })
  }

  /** Redis's reply to a decision: the outcome, the fast path's block, the breaker told. */
  #answered(reply: unknown, key: string, cost: number, carry: number, nowUs: number): Decision {
    let outcome: StoreOutcome
    try {
      outcome = (this.#redis as RedisStore).outcome(reply, cost)
    } catch (error) {
      return this.#failed(key, cost, carry, error)
    }
    this.#left()
    const breaker = this.#breaker as CircuitBreaker
    breaker.succeeded()
    if (this.#failing) {
      this.#failing = false
      this.#warner.recover('redis-unavailable', `rate limiter "${this.#o.name}": Redis answers again`)
      this.#warner.recover('redis-refused')
    }
    if (outcome.emptyForUs > 0)
      this.#blocks?.set(key, nowUs + outcome.emptyForUs, nowUs + outcome.resetAfterUs)
    else this.#blocks?.delete(key)
    return this.#publish(fromOutcome(outcome, 'store'), cost)
  }

  /** A decision Redis did not make (an error, a malformed reply, the timeout): the policy's. */
  #failed(key: string, cost: number, carry: number, error: unknown): Decision {
    this.#left()
    this.#blocks?.delete(key)
    const refused = refusedByRedis(error)
    const breaker = this.#breaker as CircuitBreaker
    if (refused) breaker.succeeded()
    else breaker.failed()
    const reason =
      error instanceof RateLimitUnavailableError && error.cause === undefined
        ? 'timeout'
        : refused
          ? 'refused'
          : 'connection'
    return this.#byPolicy(key, cost, carry, reason, error)
  }

  /** One decision on Redis is over. */
  #left(): void {
    this.#inFlight -= 1
    if (this.#inFlight === 0) this.#idle?.()
  }

  health(): RateLimiterHealth {
    const breaker = this.#breaker?.state ?? 'closed'
    const status = this.#gate.closed ? 'closed' : breaker !== 'closed' || this.#failing ? 'degraded' : 'ok'
    return {
      status,
      store: this.#redis === undefined ? 'memory' : 'redis',
      breaker,
      onRedisError: this.#o.onRedisError,
    }
  }

  async checkHealth(): Promise<RateLimiterHealth> {
    if (this.#redis === undefined || this.#gate.closed) return this.health()
    try {
      const client = await this.#clientNow()
      await withTimeout(
        client.time(),
        this.#o.timeoutMs,
        () => new RateLimitUnavailableError('TIME timed out'),
      )
      return this.health()
    } catch {
      return { ...this.health(), status: 'degraded' }
    }
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #checkArguments(key: unknown, options: TakeOptions | undefined): number {
    if (typeof key !== 'string' || key === '' || key.length > MAX_KEY_LENGTH || !wellFormed(key))
      throw new RateLimitArgumentError(
        `take(key) needs a non-empty, well-formed string of at most ${MAX_KEY_LENGTH} characters, got ${typeof key === 'string' ? `a string of ${key.length}` : typeof key}`,
      )
    const given: unknown = options
    if (given === undefined) return 1
    if (typeof given !== 'object' || given === null)
      throw new RateLimitArgumentError(`take(key, options) takes { cost }, got ${typeof given}`)
    const cost: unknown = (given as TakeOptions).cost ?? 1
    if (typeof cost !== 'number' || !Number.isInteger(cost) || cost < 0 || cost > this.#capacity)
      throw new RateLimitArgumentError(
        `cost must be a whole number from 0 to ${this.#capacity} (the limiter's ${this.#o.algorithm === 'gcra' || this.#o.algorithm === 'token-bucket' ? 'burst' : 'limit'}), got ${String(cost)}`,
      )
    return cost
  }

  /** The decision of the `onRedisError` policy, with the episode's warning and the error event. */
  #byPolicy(
    key: string,
    cost: number,
    carry: number,
    reason: RateLimitErrorEvent['reason'],
    error: unknown,
  ): Decision {
    const policy = this.#o.onRedisError
    const failure =
      error instanceof RateLimitUnavailableError
        ? error
        : new RateLimitUnavailableError(
            reason === 'breaker-open'
              ? 'the breaker over Redis is open'
              : `Redis failed: ${error instanceof Error ? error.message : String(error)}`,
            { cause: error },
          )
    this.#failing = true
    this.#warner.warn(
      reason === 'refused' ? 'redis-refused' : 'redis-unavailable',
      { code: failure.code, limiter: this.#o.name, policy, reason },
      `rate limiter "${this.#o.name}": Redis is unavailable (${failure.message}); deciding by onRedisError '${policy}' until it answers`,
    )
    if (channels.error.hasSubscribers) {
      const event: RateLimitErrorEvent = { limiter: this.#o.name, code: failure.code, policy, reason }
      channels.error.publish(event)
    }
    if (policy === 'open')
      return this.#publish(
        { allowed: true, remaining: this.#capacity, resetAfter: 0, retryAfter: 0, source: 'fail-open' },
        cost,
      )
    if (policy === 'closed') {
      return this.#publish(
        {
          allowed: false,
          remaining: 0,
          resetAfter: this.#o.periodMs,
          retryAfter: this.#o.breaker.resetTimeout,
          source: 'fail-closed',
        },
        cost,
      )
    }
    const fallback = this.#fallback as MemoryStore
    return this.#publish(fromOutcome(fallback.takeNow(key, cost, carry), 'local'), cost)
  }

  #publish(decision: Decision, cost: number): Decision {
    const ch = decision.allowed ? channels.allowed : channels.limited
    if (ch.hasSubscribers) {
      const event: DecisionEvent = {
        limiter: this.#o.name,
        algorithm: this.#o.algorithm,
        source: decision.source,
        cost,
      }
      ch.publish(event)
    }
    return decision
  }

  #clientNow(): RedisClient | Promise<RedisClient> {
    if (this.#client === undefined) {
      const made = clientFromUrl(this.#o.redis as string, this.#o.timeoutMs)
      // Once made, decisions use the client itself, without a turn through this promise. A failed
      // import is final: keep the rejection (observed) so every decision reports it.
      made.then(
        (client) => {
          this.#client = client
        },
        () => undefined,
      )
      this.#client = made
    }
    return this.#client
  }

  async #shutdown(timeoutMs: number): Promise<void> {
    if (this.#inFlight > 0) {
      const idle = new Promise<void>((resolve) => (this.#idle = resolve))
      await withTimeout(idle, timeoutMs, () => new RateLimitClosedError('close timed out')).catch(
        () => undefined,
      )
    }
    this.#sweep.expireAll()
    this.#breaker?.shutdown()
    this.#blocks?.clear()
    this.#fallback?.clear()
    if (this.#ownsClient && this.#client !== undefined) {
      try {
        const client = await this.#client
        await withTimeout(
          client.quit(),
          Math.min(timeoutMs, 1_000),
          () => new RateLimitClosedError('quit timed out'),
        ).catch(() => {
          client.disconnect()
        })
      } catch {
        // The client was never made (ioredis missing): nothing to close.
      }
    }
  }
}

/** `String.prototype.isWellFormed` (Node 20; TypeScript's ES2023 lib does not declare it): a lone surrogate becomes U+FFFD in Redis, so two keys would share one state. */
function wellFormed(key: string): boolean {
  return (key as string & { isWellFormed(): boolean }).isWellFormed()
}

function msOf(us: number): number {
  return us <= 0 ? 0 : Math.ceil(us / 1000)
}

function fromOutcome(o: Outcome, source: DecisionSource): Decision {
  return {
    allowed: o.allowed,
    remaining: o.remaining,
    resetAfter: msOf(o.resetAfterUs),
    retryAfter: msOf(o.retryAfterUs),
    source,
  }
}
