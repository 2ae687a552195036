import CircuitBreaker from 'opossum'
import type { Pool, QueryResult, QueryResultRow } from 'pg'
import type { Balanceable } from '../balancing'
import type { NodeRole, NodeState } from '../channels'
import { channels } from '../channels'
import { Dispatcher } from '../drivers/pg'
import type { CallObserver, CallSink, PoolTimeouts } from '../drivers/pg'
import { asError, isConnectionError } from '../internal/pg-errors'
import type { TimedQueryConfig } from '../internal/query-args'

/** Settings of one node's circuit breaker. */
export interface BreakerSettings {
  readonly errorThresholdPercentage: number
  readonly resetTimeout: number
  readonly volumeThreshold: number
}

/** What `new Node()` needs. */
export interface NodeInit {
  readonly name: string
  readonly role: NodeRole
  readonly pool: Pool
  readonly owned: boolean
  readonly weight: number
  readonly breaker: BreakerSettings
  readonly timeouts: PoolTimeouts
}

/** EWMA smoothing: each new sample weighs this much. */
const EWMA_ALPHA = 0.3

/**
 * The breaker's rolling window (opossum's default, set explicitly), and how long a node stays
 * guarded — every call through its breaker — after a failure that counts.
 */
const BREAKER_WINDOW_MS = 10_000

const rejectWith = (error: unknown): Promise<never> => Promise.reject(asError(error))
const ignore = (): void => undefined

type Action = () => Promise<unknown>

const callAction = (action: unknown): Promise<unknown> => (action as Action)()

/** The breaker's one action: calls `fn(a)`. Module-level, so a call allocates no closure. */
function invoke(fn: (arg: unknown) => Promise<unknown>, arg: unknown): Promise<unknown> {
  return fn(arg)
}

/**
 * One Postgres node as the router sees it: its pool, routing state (set by health checks and by
 * query outcomes), what balancing reads (in flight, EWMA latency), and an opossum breaker that
 * counts only connection errors and timeouts.
 *
 * The breaker sees every call of a node in trouble, none of a healthy one: a statement goes
 * through `breaker.fire` while the breaker is not closed or within {@link BREAKER_WINDOW_MS} of
 * the node's last counted failure; otherwise straight to the dispatcher, which reports a counted
 * failure to the breaker (as one failed call) and so puts the node under guard. The breaker's
 * window then holds the calls since trouble began; it opens, fails fast and lets trials through
 * as opossum does. Why: a `fire` per statement (its promises, events, latency list) cost about
 * 2 µs of client CPU per read (README, Benchmarks).
 */
export class Node implements Balanceable {
  readonly name: string
  readonly role: NodeRole
  readonly pool: Pool
  readonly owned: boolean
  readonly weight: number
  /** Sends this node's statements (the router's own checks too) with their deadlines. */
  readonly dispatcher: Dispatcher
  /** Highest replay LSN seen on this replica (replay only moves forward). */
  replayLsn = 0n
  lagBytes: number | undefined = undefined
  lagSeconds = 0
  outstanding = 0
  ewmaMs = 0
  sampledAt: number | undefined = undefined
  /** Consecutive good / bad health checks, for hysteresis. */
  goodStreak = 0
  badStreak = 0
  #state: NodeState = 'up'
  readonly #breaker: CircuitBreaker<[(arg: unknown) => Promise<unknown>, unknown]>
  /** The breaker's action: one statement through the dispatcher, observed as a call via the breaker. */
  readonly #dispatch: (config: unknown) => Promise<unknown>
  readonly #queryTimeout: number
  /** `performance.now()` until which calls go through the breaker; 0 while the node is healthy. */
  #guardedUntil = 0
  /** What a statement sent straight (not through the breaker) tells the node when it ends. */
  readonly #direct: CallObserver

  constructor(init: NodeInit) {
    this.name = init.name
    this.role = init.role
    this.pool = init.pool
    this.owned = init.owned
    this.weight = init.weight
    const dispatcher = new Dispatcher(init.pool, init.timeouts.connect)
    this.dispatcher = dispatcher
    const queryTimeout = init.timeouts.query
    this.#queryTimeout = queryTimeout
    const began = (): void => {
      this.outstanding += 1
    }
    // Through the breaker: it counts the outcome itself; a counted failure keeps the guard up.
    const viaBreaker: CallObserver = {
      began,
      ended: (ms, at, error) => {
        this.outstanding -= 1
        if (error === undefined) this.#sample(ms, at)
        else if (isConnectionError(error)) this.#guardedUntil = at + BREAKER_WINDOW_MS
      },
    }
    this.#direct = {
      began,
      ended: (ms, at, error) => {
        this.outstanding -= 1
        if (error === undefined) this.#sample(ms, at)
        else if (isConnectionError(error)) this.#failedUnguarded(error, at)
      },
    }
    this.#dispatch = (config) => dispatcher.query(config as TimedQueryConfig, (config as TimedQueryConfig).query_timeout ?? queryTimeout, viaBreaker)
    this.#breaker = new CircuitBreaker(invoke, {
      timeout: false,
      rollingCountTimeout: BREAKER_WINDOW_MS,
      errorThresholdPercentage: init.breaker.errorThresholdPercentage,
      resetTimeout: init.breaker.resetTimeout,
      volumeThreshold: init.breaker.volumeThreshold,
      // Hot path: no latency percentiles or snapshot timers (the router keeps its own EWMA).
      rollingPercentilesEnabled: false,
      enableSnapshots: false,
      // true = "not a failure": only connection errors and timeouts trip the breaker.
      errorFilter: (error: unknown) => !isConnectionError(error),
    })
    const publish = (state: 'open' | 'half-open' | 'closed'): void => {
      if (channels.breaker.hasSubscribers) channels.breaker.publish({ package: 'db-router', namespace: this.name, state })
    }
    this.#breaker.on('open', () => {
      publish('open')
    })
    this.#breaker.on('halfOpen', () => {
      publish('half-open')
    })
    this.#breaker.on('close', () => {
      publish('closed')
    })
  }

  /** The routing state. */
  get state(): NodeState {
    return this.#state
  }

  /** True when the breaker is open (calls fail fast until its reset timeout lets a trial through). */
  get breakerOpen(): boolean {
    return this.#breaker.opened
  }

  /** A replica that may take reads now: up, and its breaker not open. */
  get usable(): boolean {
    return this.#state === 'up' && !this.#breaker.opened
  }

  /** Changes state, publishing `scalekit:db:node-state`; resets the hysteresis streaks. */
  setState(to: NodeState, reason: string): void {
    const from = this.#state
    if (from === to) return
    this.#state = to
    // A replica readmitted by health checks has proven itself: its breaker closes with it.
    if (to === 'up' && !this.#breaker.closed) this.#breaker.close()
    this.goodStreak = 0
    this.badStreak = 0
    if (channels.nodeState.hasSubscribers) channels.nodeState.publish({ node: this.name, role: this.role, from, to, reason })
  }

  /**
   * Sends one statement, through the breaker while the node is guarded; its dispatcher counts it
   * in flight and feeds the latency average. {@link send} with a promise around it.
   */
  query<R extends QueryResultRow>(config: TimedQueryConfig): Promise<QueryResult<R>> {
    return new Promise<QueryResult<R>>((resolve, reject) => {
      this.send(config, { answer: resolve as (result: QueryResult) => void, fail: reject })
    })
  }

  /** Sends one statement; the outcome goes to `sink` (a routed read's path: no promise of its own). */
  send(config: TimedQueryConfig, sink: CallSink): void {
    if (!this.#guarded()) {
      this.dispatcher.send(config, config.query_timeout ?? this.#queryTimeout, this.#direct, sink)
      return
    }
    this.#breaker.fire(this.#dispatch, config).then(
      (result) => {
        sink.answer(result as QueryResult)
      },
      (error: unknown) => {
        sink.fail(error)
      },
    )
  }

  /** True while calls must go through the breaker: it is not closed, or a counted failure is recent. */
  #guarded(): boolean {
    if (!this.#breaker.closed) return true
    if (this.#guardedUntil === 0) return false
    if (performance.now() < this.#guardedUntil) return true
    this.#guardedUntil = 0
    return false
  }

  /** A statement sent straight failed in a way that counts: the breaker records it as one failed call, and guards from now on. */
  #failedUnguarded(error: unknown, at: number): void {
    this.#guardedUntil = at + BREAKER_WINDOW_MS
    this.#breaker.fire(rejectWith, error).catch(ignore)
  }

  /** Runs `action` through the breaker, counting it in flight and feeding the latency average. */
  async run<T>(action: () => Promise<T>): Promise<T> {
    this.outstanding += 1
    const start = performance.now()
    try {
      const result = (await this.#breaker.fire(callAction, action)) as T
      const at = performance.now()
      this.#sample(at - start, at)
      return result
    } catch (error) {
      if (isConnectionError(error)) this.#guardedUntil = performance.now() + BREAKER_WINDOW_MS
      throw error
    } finally {
      this.outstanding -= 1
    }
  }

  /** A latency of `ms`, measured at `at` (`performance.now()`). */
  #sample(ms: number, at: number): void {
    this.ewmaMs = this.ewmaMs === 0 ? ms : this.ewmaMs + EWMA_ALPHA * (ms - this.ewmaMs)
    this.sampledAt = at
  }

  /** Records a new replay position seen by a check or a probe. */
  sawReplay(lsn: bigint): void {
    if (lsn > this.replayLsn) this.replayLsn = lsn
  }

  /** Stops the breaker's timers and ends the pool if the router created it. */
  async close(): Promise<void> {
    this.#breaker.shutdown()
    if (this.owned) await this.pool.end()
  }
}
