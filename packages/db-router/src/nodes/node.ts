import { BreakerOpenError, CircuitBreaker } from '@scalekit/internal'
import type { BreakerState } from '@scalekit/internal'
import type { QueryResult, QueryResultRow } from 'pg'
import type { Balanceable } from '../balancing'
import type { NodeRole, NodeState } from '../channels'
import { channels } from '../channels'
import { isConnectionError } from '../internal/pg-errors'
import type { TimedQueryConfig } from '../internal/query-args'
import type { Trouble } from '../trouble'
import { Dispatcher } from './dispatcher'
import type { CallObserver } from './dispatcher'
import type { NodePool, PoolTimeouts } from './pools'

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
  readonly pool: NodePool
  readonly weight: number
  readonly breaker: BreakerSettings
  readonly timeouts: PoolTimeouts
  readonly trouble: Trouble
}

/** EWMA smoothing: each new sample weighs this much. */
const EWMA_ALPHA = 0.3

/** The breaker's rolling window: opossum's default, set explicitly because the README quotes it. */
const BREAKER_WINDOW_MS = 10_000

/**
 * One Postgres node as the router sees it: its pool, routing state (set by health checks and by
 * query outcomes), what balancing reads (in flight, EWMA latency), and a circuit breaker (opossum's
 * semantics, `@scalekit/internal`) that every statement goes through, counting only connection
 * errors and timeouts as failures. A statement is counted, timed and reported to the breaker when
 * the dispatcher ends it ({@link Node.ended}), so the node adds no promise of its own to a call.
 */
export class Node implements Balanceable, CallObserver {
  readonly name: string
  readonly role: NodeRole
  readonly pool: NodePool['pool']
  readonly owned: boolean
  readonly weight: number
  /** Sends this node's statements (the router's own checks too, which bypass the breaker) with their deadlines. */
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
  readonly #breaker: CircuitBreaker
  readonly #queryTimeout: number
  readonly #trouble: Trouble

  constructor(init: NodeInit) {
    this.name = init.name
    this.role = init.role
    this.pool = init.pool.pool
    this.owned = init.pool.owned
    this.weight = init.weight
    this.dispatcher = new Dispatcher(init.pool.pool, init.timeouts.connect, init.pool.prepare)
    this.#queryTimeout = init.timeouts.query
    this.#trouble = init.trouble
    this.#breaker = new CircuitBreaker(
      {
        rollingCountTimeout: BREAKER_WINDOW_MS,
        errorThresholdPercentage: init.breaker.errorThresholdPercentage,
        resetTimeout: init.breaker.resetTimeout,
        volumeThreshold: init.breaker.volumeThreshold,
      },
      (state: BreakerState) => {
        if (channels.breaker.hasSubscribers)
          channels.breaker.publish({ package: 'db-router', namespace: this.name, state })
        this.#trouble.breaker(this, state)
      },
    )
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

  /** Changes state, publishing `scalekit:db-router:node-state`; resets the hysteresis streaks. */
  setState(to: NodeState, reason: string): void {
    const from = this.#state
    if (from === to) return
    this.#state = to
    // A replica readmitted by health checks has proven itself: its breaker closes with it.
    if (to === 'up' && !this.#breaker.closed) this.#breaker.close()
    this.goodStreak = 0
    this.badStreak = 0
    if (channels.nodeState.hasSubscribers)
      channels.nodeState.publish({ node: this.name, role: this.role, from, to, reason })
    this.#trouble.nodeState(this, from, to, reason)
  }

  /**
   * Sends one statement through the breaker and the dispatcher, with the call's timeout or the
   * node's; refused with `EOPENBREAKER` while the breaker is open.
   */
  query<R extends QueryResultRow>(config: TimedQueryConfig): Promise<QueryResult<R>> {
    if (!this.#breaker.admit()) return Promise.reject(new BreakerOpenError())
    this.outstanding += 1
    return this.dispatcher.query<R>(config, config.query_timeout ?? this.#queryTimeout, this)
  }

  /** A statement of this node ended: one less in flight, an answer's latency into the average, the outcome to the breaker. */
  ended(error: Error | undefined, startedAt: number): void {
    this.outstanding -= 1
    if (error === undefined) this.#sample(startedAt, performance.now())
    this.#settle(error)
  }

  /** Runs `work` (a session checkout, a write with its capture) through the breaker, counting it in flight and feeding the latency average. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (!this.#breaker.admit()) throw new BreakerOpenError()
    this.outstanding += 1
    const start = performance.now()
    try {
      const result = await work()
      this.#sample(start, performance.now())
      this.#settle(undefined)
      return result
    } catch (error) {
      this.#settle(error)
      throw error
    } finally {
      this.outstanding -= 1
    }
  }

  /** Only connection errors and timeouts are the node's failures; an answer or an SQL error is a success. */
  #settle(error: unknown): void {
    if (error !== undefined && isConnectionError(error)) this.#breaker.failed()
    else this.#breaker.succeeded()
  }

  /** The latency of a call from `start` to `at` (both `performance.now()`) into the average. */
  #sample(start: number, at: number): void {
    const ms = at - start
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
