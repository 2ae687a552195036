import CircuitBreaker from 'opossum'
import type { Pool } from 'pg'
import type { Balanceable } from '../balancing'
import type { NodeRole, NodeState } from '../channels'
import { channels } from '../channels'
import { isConnectionError } from '../internal/pg-errors'

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
}

/** EWMA smoothing: each new sample weighs this much. */
const EWMA_ALPHA = 0.3

type Action = () => Promise<unknown>

/**
 * One Postgres node as the router sees it: its pool, routing state (set by health checks and by
 * query outcomes), what balancing reads (in flight, EWMA latency), and an opossum breaker that
 * counts only connection errors and timeouts.
 */
export class Node implements Balanceable {
  readonly name: string
  readonly role: NodeRole
  readonly pool: Pool
  readonly owned: boolean
  readonly weight: number
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
  readonly #breaker: CircuitBreaker<[Action]>

  constructor(init: NodeInit) {
    this.name = init.name
    this.role = init.role
    this.pool = init.pool
    this.owned = init.owned
    this.weight = init.weight
    this.#breaker = new CircuitBreaker<[Action], unknown>((action) => action(), {
      timeout: false,
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

  /** Runs `action` through the breaker, counting it in flight and feeding the latency average. */
  async run<T>(action: () => Promise<T>): Promise<T> {
    this.outstanding += 1
    const start = performance.now()
    try {
      const result = (await this.#breaker.fire(action)) as T
      const end = performance.now()
      const ms = end - start
      this.ewmaMs = this.ewmaMs === 0 ? ms : this.ewmaMs + EWMA_ALPHA * (ms - this.ewmaMs)
      this.sampledAt = end
      return result
    } finally {
      this.outstanding -= 1
    }
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
