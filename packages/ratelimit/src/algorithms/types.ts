/**
 * The algorithms a limiter can run. Each is one Lua script on Redis and the same pure step function
 * in memory (the in-memory store and the reference the Lua scripts are tested against).
 *
 * - `gcra` (default): the generic cell rate algorithm — one timestamp per key, smooth, `burst` at once.
 * - `token-bucket`: the same limit kept as a token count and a time, as most token-bucket libraries do.
 * - `sliding-log`: one entry per request in the last `period`; exact, memory grows with `limit`.
 * - `sliding-window`: the weighted count of the current and previous fixed windows (an approximation).
 * - `fixed-window`: a counter per `period`, aligned to the clock; up to 2 × `limit` across a window edge.
 */
export type Algorithm = 'gcra' | 'token-bucket' | 'sliding-log' | 'sliding-window' | 'fixed-window'

/** Every algorithm's name, in the order the README lists them. */
export const ALGORITHMS: readonly Algorithm[] = [
  'gcra',
  'token-bucket',
  'sliding-log',
  'sliding-window',
  'fixed-window',
]

/** A limiter's parameters in the units the algorithms compute with: whole microseconds. */
export interface Params {
  /** Requests (units of cost) per period. */
  readonly limit: number
  /** The period, µs. */
  readonly periodUs: number
  /** GCRA and token bucket: the units an idle key may spend at once. */
  readonly burst: number
  /** GCRA and token bucket: µs per unit, `periodUs / limit` rounded (at least 1). */
  readonly intervalUs: number
}

/** What one step decided, in µs. */
export interface Outcome {
  readonly allowed: boolean
  /** Units that could still be spent right now, after this step. */
  readonly remaining: number
  /** µs until the key is back to its full allowance (nothing spent). */
  readonly resetAfterUs: number
  /** µs until the same request would be allowed; 0 when allowed. */
  readonly retryAfterUs: number
  /** µs during which not even one unit is available (0 when one is): the local fast path's block. */
  readonly emptyForUs: number
}

/**
 * One algorithm as a pure function of the key's state, the time and the request, mirrored line by
 * line by its Lua script so both give the same answers in the same double arithmetic.
 *
 * `carry` is consumption made elsewhere (by the local fallback while Redis was away) added to the
 * state before the decision, in units of cost.
 */
export interface Model<S> {
  step(state: S | undefined, nowUs: number, cost: number, carry: number, p: Params): Step<S>
}

/** A step's result: the new state (undefined: the key is empty again), how long to keep it, the outcome. */
export interface Step<S> {
  readonly state: S | undefined
  readonly ttlUs: number
  readonly outcome: Outcome
}
