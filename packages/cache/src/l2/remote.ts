import { BreakerOpenError, CircuitBreaker, DeadlineSweep, withTimeout } from '@scalekit/internal'
import { type BreakerStateEvent, channels } from '../channels'
import { CacheUnavailableError } from '../errors'
import type { ResolvedOptions } from '../options'
import type { RedisClient } from './client'

/** The state of the breaker over Redis, as `health()` shows it. */
export type BreakerState = BreakerStateEvent['state']

/** What the cache hears from its connection: Redis lost or found again, the breaker opening or closing. */
export interface RemoteEvents {
  /** The breaker opened: calls fail at once until it closes. */
  readonly open: () => void
  /** The breaker closed: Redis answers again. */
  readonly close: () => void
  /** Redis became unusable (a connection failed or was lost, or a call timed out); `reason` says how. */
  readonly lost: (reason: CacheUnavailableError) => void
  /** A call succeeded after `lost`. */
  readonly back: () => void
}

/** What every connection of one cache shares: one breaker, one deadline sweep, one view of Redis's health. */
interface Shared {
  readonly breaker: CircuitBreaker
  /** A call's pending reply bounded by `ms` (the one sweeping timer), watched for Redis's return while it is down. */
  readonly bound: <T>(pending: Promise<T>, ms: number) => Promise<T>
  readonly timeoutMs: number
  /** Where Redis is, for error messages: `host:port` (never credentials). */
  readonly endpoint: string
  readonly events: RemoteEvents
  readonly health: Health
}

/** What the calls have taught about Redis's health since the last success. */
interface Health {
  /** A call timed out and none has succeeded since. */
  timedOut: boolean
  /** `lost` was reported and no call has succeeded since. */
  lost: boolean
}

/**
 * Codes of Redis error replies that mean Redis itself cannot serve (loading, busy, out of memory,
 * read-only replica, cluster down…): they count toward the breaker. Any other reply (a wrong type,
 * a script error) means Redis answered a call it refused: that says nothing about Redis's health
 * and never opens the breaker.
 */
const OUTAGE_REPLIES = /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF)\b/

/** True for an error reply from Redis (ioredis's ReplyError) that is not an outage: not counted by the breaker. */
function answeredByRedis(error: unknown): boolean {
  return error instanceof Error && error.name === 'ReplyError' && !OUTAGE_REPLIES.test(error.message)
}

/** Socket and DNS error codes that mean the address is wrong or nothing listens there. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
])

/** The message of a failed call, naming what to check; `cause` keeps the driver's error. */
function unavailable(error: unknown, endpoint: string): CacheUnavailableError {
  if (error instanceof CacheUnavailableError) return error
  const code = (error as { code?: unknown } | undefined)?.code
  const text = error instanceof Error ? error.message : String(error)
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return new CacheUnavailableError(
      `Redis at ${endpoint} cannot be reached (${code}): check the host and port of the redis option, and that Redis runs there`,
      { cause: error },
    )
  }
  if (answeredByRedis(error))
    return new CacheUnavailableError(`Redis at ${endpoint} refused the command: ${text}`, { cause: error })
  return new CacheUnavailableError(`Redis at ${endpoint} failed: ${text}`, { cause: error })
}

/** `host:port` (or the socket path) of an ioredis client, read from its public `options`; never credentials. */
export function endpointOf(client: RedisClient): string {
  if (client.isCluster) return 'the cluster'
  const options = (client as { options?: { host?: unknown; port?: unknown; path?: unknown } }).options
  if (typeof options?.path === 'string' && options.path !== '') return options.path
  const host = typeof options?.host === 'string' ? options.host : 'localhost'
  const port = typeof options?.port === 'number' ? options.port : 6379
  return `${host}:${port}`
}

/** `#ready()`'s answer when the connection failed or was lost and the client is (re)connecting. */
const UNREACHABLE_NOW = Symbol('unreachable')

/**
 * One Redis connection of the cache with what makes it safe to call: every call bounded by the
 * cache's `timeout` (one sweeping timer for all of them), behind the cache's circuit breaker, and
 * waiting for (or failing fast during) a connect. The cache's tier and its write-behind queues
 * call Redis through this alone, so they share one breaker and one failure story.
 */
export class Remote {
  readonly client: RedisClient
  readonly #shared: Shared
  readonly #owned: boolean
  #whenReady: Promise<void> | undefined
  /** Whether the client has been ready once: after that, not ready means an outage, not a first connect. */
  #wasReady: boolean
  /** The last connection error since the client was last ready (ECONNREFUSED, ENOTFOUND…). */
  #connectionError: Error | undefined
  readonly #onReady = (): void => {
    this.#wasReady = true
    this.#connectionError = undefined
  }
  readonly #onError = (error: unknown): void => {
    if (this.client.status === 'ready' || !(error instanceof Error)) return
    const first = this.#connectionError === undefined
    this.#connectionError = error
    if (first) this.#lost(unavailable(error, this.#shared.endpoint))
  }
  readonly #onClose = (): void => {
    if (this.#wasReady && this.#connectionError === undefined)
      this.#lost(new CacheUnavailableError(`Redis at ${this.#shared.endpoint} closed the connection`))
  }

  private constructor(client: RedisClient, shared: Shared, owned: boolean) {
    this.client = client
    this.#shared = shared
    this.#owned = owned
    this.#wasReady = client.status === 'ready'
    client.on('ready', this.#onReady)
    // A listener of our own: the connection's errors become the cause of failed calls and one
    // warning per episode (through the logger) instead of ioredis's unhandled-error print.
    client.on('error', this.#onError)
    client.on('close', this.#onClose)
  }

  /** The cache's connection over `client`; `on` hears of the breaker and of Redis lost and found again. */
  static create(client: RedisClient, options: ResolvedOptions, on: RemoteEvents): Remote {
    const sweep = new DeadlineSweep()
    const endpoint = endpointOf(client)
    const health: Health = { timedOut: false, lost: false }
    const timedOut = (ms: number): CacheUnavailableError => {
      const error = new CacheUnavailableError(
        `Redis at ${endpoint} did not answer within ${ms} ms (the cache's timeout): is it overloaded, or is the host and port of the redis option right?`,
      )
      health.timedOut = true
      if (!health.lost) {
        health.lost = true
        on.lost(error)
      }
      return error
    }
    const answered = (): void => {
      health.timedOut = false
      if (health.lost) {
        health.lost = false
        on.back()
      }
    }
    const maybeAnswered = (error: unknown): void => {
      if (answeredByRedis(error)) answered()
    }
    const bound = <T>(pending: Promise<T>, ms: number): Promise<T> => {
      // Only while Redis is believed down does a call watch for an answer that ends the episode:
      // the healthy path pays nothing for it.
      if (health.timedOut || health.lost) pending.then(answered, maybeAnswered)
      return sweep.race(pending, ms, () => timedOut(ms))
    }
    // The SDK's breaker (opossum's semantics): `call()` admits each call and reports how it ended.
    const breaker = new CircuitBreaker(
      {
        errorThresholdPercentage: options.breaker.errorThresholdPercentage,
        resetTimeout: options.breaker.resetTimeout,
        volumeThreshold: options.breaker.volumeThreshold,
        rollingCountTimeout: 10_000,
      },
      (state) => {
        if (channels.breaker.hasSubscribers) {
          channels.breaker.publish({
            package: 'cache',
            namespace: options.namespace,
            state,
          } satisfies BreakerStateEvent)
        }
        if (state === 'open') on.open()
        else if (state === 'closed') on.close()
      },
    )
    return new Remote(
      client,
      { breaker, bound, timeoutMs: options.timeout, endpoint, events: on, health },
      false,
    )
  }

  /** The bound of every call, in ms (the cache's `timeout`). */
  get timeoutMs(): number {
    return this.#shared.timeoutMs
  }

  /** The breaker's state: `open` while calls fail at once without reaching Redis. */
  get breaker(): BreakerState {
    return this.#shared.breaker.state
  }

  /**
   * True while Redis is known not to answer: the breaker is open, the connection failed or was lost
   * (the client is reconnecting), or a call timed out and none has succeeded since. Calls still try
   * Redis (they fail at once while the connection is down); an L1 value is then served without
   * waiting for Redis to confirm it.
   */
  get down(): boolean {
    if (this.#shared.breaker.opened || this.#shared.health.timedOut) return true
    return this.client.status !== 'ready' && (this.#wasReady || this.#connectionError !== undefined)
  }

  /** True unless {@link Remote.down}: what `health().l2.available` shows. */
  get available(): boolean {
    return !this.down
  }

  /**
   * Runs one Redis call through the breaker, bounded by the cache's `timeout` plus `extraMs` (a
   * blocking read's own wait); any failure becomes `CacheUnavailableError` with the cause.
   */
  call<T>(action: () => Promise<T>, extraMs = 0): Promise<T> {
    const { breaker } = this.#shared
    // An open breaker never calls the action, so nothing is sent and nothing rejects unseen.
    if (!breaker.admit()) return Promise.reject(this.#failure(new BreakerOpenError()))
    const ready = this.#ready()
    let pending: Promise<T>
    if (ready === undefined) {
      try {
        pending = action()
      } catch (error) {
        pending = Promise.reject(error instanceof Error ? error : new Error(String(error)))
      }
    } else if (ready === UNREACHABLE_NOW) pending = Promise.reject(this.#unreachable())
    else pending = ready.then(action)
    return this.#shared.bound(pending, this.#shared.timeoutMs + extraMs).then(
      (value) => {
        breaker.succeeded()
        return value
      },
      (error: unknown) => {
        // Only Redis's own failures count: a refused command (Redis answered) never opens the breaker.
        if (answeredByRedis(error)) breaker.succeeded()
        else breaker.failed()
        return this.#rethrow(error)
      },
    )
  }

  readonly #rethrow = (error: unknown): never => {
    throw this.#failure(error)
  }

  /**
   * A failed call as the caller sees it. ioredis rejects a failed connect with "Connection is
   * closed." and reports the socket's error (ECONNREFUSED, ENOTFOUND…) as an event: that error is
   * the cause worth showing.
   */
  #failure(error: unknown): CacheUnavailableError {
    const connection = this.#connectionError
    if ((error as { code?: unknown } | undefined)?.code === 'EOPENBREAKER') {
      return new CacheUnavailableError(
        `Redis at ${this.#shared.endpoint}: the circuit breaker is open after repeated failures; calls fail at once until a trial call succeeds`,
        { cause: connection ?? error },
      )
    }
    const replied = answeredByRedis(error) || error instanceof CacheUnavailableError
    return unavailable(connection !== undefined && !replied ? connection : error, this.#shared.endpoint)
  }

  /** The error of a call made while the connection is down, with the connection's own error as cause. */
  #unreachable(): CacheUnavailableError {
    const cause = this.#connectionError
    if (cause !== undefined) return unavailable(cause, this.#shared.endpoint)
    return new CacheUnavailableError(
      `Redis at ${this.#shared.endpoint} is unreachable: the connection was lost and the client is reconnecting (${this.client.status})`,
    )
  }

  /** Reports Redis lost, once until a call succeeds again. */
  #lost(reason: CacheUnavailableError): void {
    const { health, events } = this.#shared
    if (health.lost) return
    health.lost = true
    events.lost(reason)
  }

  /**
   * A second connection to the same Redis behind the same breaker, owned (and closed) by the
   * caller: for commands that tie a connection up, such as a blocking stream read.
   */
  duplicate(): Remote {
    const client = this.client.duplicate()
    // Its errors surface through the calls; without a listener ioredis would print each one.
    client.on('error', () => undefined)
    return new Remote(client, this.#shared, true)
  }

  /** Stops listening; quits the client if this connection created it (within the timeout, then drops it). */
  async close(): Promise<void> {
    this.#stopListening()
    if (!this.#owned) return
    await withTimeout(
      this.client.quit(),
      Math.min(this.#shared.timeoutMs * 4, 2_000),
      () => new CacheUnavailableError('QUIT timed out'),
    ).catch(() => undefined)
    this.client.disconnect()
  }

  /** Stops the breaker's timers (the cache is closing). */
  shutdown(): void {
    this.#shared.breaker.shutdown()
    this.#stopListening()
  }

  #stopListening(): void {
    this.client.off('ready', this.#onReady)
    this.client.off('error', this.#onError)
    this.client.off('close', this.#onClose)
  }

  /**
   * Undefined when the client is ready. During the first connect, a promise of readiness shared by
   * every caller meanwhile (the breaker's timeout bounds each wait); connects a lazy client on first
   * use. Once the client has been ready, or once a connect attempt failed, a client that is not
   * ready is reconnecting after a failure: callers fail at once (with the connection's error as
   * cause) instead of waiting out the timeout, so L1 keeps answering in microseconds.
   */
  #ready(): Promise<void> | typeof UNREACHABLE_NOW | undefined {
    const client = this.client
    if (client.status === 'ready') return undefined
    if (this.#wasReady || this.#connectionError !== undefined) return UNREACHABLE_NOW
    if (client.status === 'wait') {
      if (this.#whenReady === undefined) {
        const connecting = client.connect().finally(() => {
          this.#whenReady = undefined
        })
        // Callers that await it see a failure; with none (breaker open) it must not be unhandled.
        connecting.catch(() => undefined)
        this.#whenReady = connecting
      }
      return this.#whenReady
    }
    // A connect in progress (an app's client, or a duplicate): wait for it, or fail with its error.
    if (this.#whenReady === undefined) {
      const waiting = new Promise<void>((resolve, reject) => {
        const onReady = (): void => {
          client.off('error', onError)
          this.#whenReady = undefined
          resolve()
        }
        const onError = (error: unknown): void => {
          client.off('ready', onReady)
          this.#whenReady = undefined
          reject(error instanceof Error ? error : new Error(String(error)))
        }
        client.once('ready', onReady)
        client.once('error', onError)
      })
      waiting.catch(() => undefined)
      this.#whenReady = waiting
    }
    return this.#whenReady
  }
}
