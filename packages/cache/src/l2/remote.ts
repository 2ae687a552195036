import { DeadlineSweep, withTimeout } from '@scalekit/internal'
import CircuitBreaker from 'opossum'
import { type BreakerStateEvent, channels } from '../channels'
import { CacheUnavailableError } from '../errors'
import type { ResolvedOptions } from '../options'
import type { RedisClient } from './client'

/** The state of the breaker over Redis, as `health()` shows it. */
export type BreakerState = BreakerStateEvent['state']

/** What every connection of one cache shares: one breaker and one deadline sweep over Redis. */
interface Shared {
  readonly breaker: CircuitBreaker<[() => Promise<unknown>, number]>
  readonly timeoutMs: number
}

/** `#ready()`'s answer when the client lost its connection and is reconnecting. */
const RECONNECTING = Symbol('reconnecting')

function unavailable(error: unknown): never {
  if (error instanceof CacheUnavailableError) throw error
  throw new CacheUnavailableError(
    `Redis did not answer: ${error instanceof Error ? error.message : String(error)}`,
    {
      cause: error,
    },
  )
}

/**
 * One Redis connection of the cache with what makes it safe to call: every call bounded by the
 * cache's `timeout` (one sweeping timer for all of them), behind the cache's opossum breaker, and
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
  readonly #onReady = (): void => {
    this.#wasReady = true
  }

  private constructor(client: RedisClient, shared: Shared, owned: boolean) {
    this.client = client
    this.#shared = shared
    this.#owned = owned
    this.#wasReady = client.status === 'ready'
    client.on('ready', this.#onReady)
  }

  /** The cache's connection over `client`; `on.open` runs each time the breaker opens, `on.close` each time Redis answers again. */
  static create(
    client: RedisClient,
    options: ResolvedOptions,
    on: { open: () => void; close: () => void },
  ): Remote {
    const sweep = new DeadlineSweep()
    // The breaker counts failures and opens; the timeout is enforced by the one sweeping timer.
    const breaker = new CircuitBreaker(
      (action: () => Promise<unknown>, ms: number) =>
        sweep.race(action(), ms, () => new CacheUnavailableError(`Redis did not answer within ${ms} ms`)),
      {
        timeout: false,
        errorThresholdPercentage: options.breaker.errorThresholdPercentage,
        resetTimeout: options.breaker.resetTimeout,
        volumeThreshold: options.breaker.volumeThreshold,
        rollingCountTimeout: 10_000,
      },
    )
    const publish = (state: BreakerState): void => {
      if (channels.breaker.hasSubscribers) {
        channels.breaker.publish({
          package: 'cache',
          namespace: options.namespace,
          state,
        } satisfies BreakerStateEvent)
      }
    }
    breaker.on('open', () => {
      publish('open')
      on.open()
    })
    breaker.on('halfOpen', () => {
      publish('half-open')
    })
    breaker.on('close', () => {
      publish('closed')
      on.close()
    })
    return new Remote(client, { breaker, timeoutMs: options.timeout }, false)
  }

  /** The bound of every call, in ms (the cache's `timeout`). */
  get timeoutMs(): number {
    return this.#shared.timeoutMs
  }

  /** The breaker's state: `open` while calls fail at once without reaching Redis. */
  get breaker(): BreakerState {
    const { breaker } = this.#shared
    return breaker.opened ? 'open' : breaker.halfOpen ? 'half-open' : 'closed'
  }

  /** True while the breaker lets calls through. */
  get available(): boolean {
    return !this.#shared.breaker.opened
  }

  /** True once the client was ready and is not now: it lost Redis and is reconnecting. */
  get reconnecting(): boolean {
    return this.#wasReady && this.client.status !== 'ready'
  }

  /**
   * Runs one Redis call through the breaker, bounded by the cache's `timeout` plus `extraMs` (a
   * blocking read's own wait); any failure becomes `CacheUnavailableError` with the cause.
   */
  call<T>(action: () => Promise<T>, extraMs = 0): Promise<T> {
    const ready = this.#ready()
    // Built only when the breaker runs it: an open breaker never calls the action, so nothing rejects unseen.
    const run =
      ready === undefined
        ? action
        : ready === RECONNECTING
          ? (): Promise<T> =>
              Promise.reject(new CacheUnavailableError(`Redis is reconnecting (${this.client.status})`))
          : async (): Promise<T> => {
              await ready
              return action()
            }
    return (this.#shared.breaker.fire(run, this.#shared.timeoutMs + extraMs) as Promise<T>).catch(unavailable)
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
    this.client.off('ready', this.#onReady)
    if (!this.#owned) return
    await withTimeout(
      this.client.quit(),
      this.#shared.timeoutMs * 4,
      () => new CacheUnavailableError('QUIT timed out'),
    ).catch(() => undefined)
    this.client.disconnect()
  }

  /** Stops the breaker's timers (the cache is closing). */
  shutdown(): void {
    this.#shared.breaker.shutdown()
    this.client.off('ready', this.#onReady)
  }

  /**
   * Undefined when the client is ready. During the first connect, a promise of readiness shared by
   * every caller meanwhile (the breaker's timeout bounds each wait); connects a lazy client on first
   * use. Once the client has been ready, a client that is not is reconnecting after a failure:
   * callers fail at once instead of waiting out the timeout, so L1 keeps answering in microseconds.
   */
  #ready(): Promise<void> | typeof RECONNECTING | undefined {
    const client = this.client
    if (client.status === 'ready') return undefined
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
    if (this.#wasReady) return RECONNECTING
    this.#whenReady ??= new Promise<void>((resolve) => {
      client.once('ready', () => {
        this.#whenReady = undefined
        resolve()
      })
    })
    return this.#whenReady
  }
}
