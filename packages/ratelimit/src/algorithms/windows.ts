import type { Model, Step } from './types'

/** A fixed window's state: the window's index (`floor(now / period)`) and its count. */
export interface FixedWindow {
  readonly window: number
  readonly count: number
}

/** A counter per period, aligned to the clock: simple and cheap, but up to 2 × `limit` across an edge. */
export const fixedWindow: Model<FixedWindow> = {
  step(state, nowUs, cost, carry, p): Step<FixedWindow> {
    const window = Math.floor(nowUs / p.periodUs)
    const endsIn = (window + 1) * p.periodUs - nowUs
    let count = state !== undefined && state.window === window ? state.count : 0
    count += Math.ceil(carry)
    const allowed = count + cost <= p.limit
    if (allowed) count += cost
    const outcome = {
      allowed,
      remaining: Math.max(0, p.limit - count),
      resetAfterUs: count > 0 ? endsIn : 0,
      retryAfterUs: allowed ? 0 : endsIn,
      emptyForUs: count >= p.limit ? endsIn : 0,
    }
    return { state: count > 0 ? { window, count } : undefined, ttlUs: endsIn, outcome }
  },
}

/** A sliding window's state: the current window's index and count, and the previous window's count. */
export interface SlidingWindow {
  readonly window: number
  readonly current: number
  readonly previous: number
}

/**
 * The sliding-window counter: the previous window's count weighted by how much of it the last
 * period still covers, plus the current window's. An approximation (it assumes the previous
 * window's requests were evenly spread); two integers per key.
 */
export const slidingWindow: Model<SlidingWindow> = {
  step(state, nowUs, cost, carry, p): Step<SlidingWindow> {
    const period = p.periodUs
    const window = Math.floor(nowUs / period)
    const elapsed = nowUs - window * period
    let current = 0
    let previous = 0
    if (state !== undefined && state.window === window) {
      current = state.current
      previous = state.previous
    } else if (state !== undefined && state.window === window - 1) previous = state.current
    current += Math.ceil(carry)
    const estimate = (previous * (period - elapsed)) / period + current
    const allowed = estimate + cost <= p.limit
    if (allowed) current += cost
    const after = (previous * (period - elapsed)) / period + current
    // µs until the estimate falls to `room` or below: within this window while the previous one
    // fades, else in the next window while this one fades.
    const waitUntil = (room: number): number => {
      if (current <= room && previous > 0)
        return Math.max(0, Math.ceil(period - ((room - current) * period) / previous) - elapsed)
      return period - elapsed + Math.ceil(period - (room * period) / current)
    }
    const outcome = {
      allowed,
      remaining: Math.max(0, Math.floor(p.limit - after)),
      resetAfterUs: current > 0 ? 2 * period - elapsed : previous > 0 ? period - elapsed : 0,
      retryAfterUs: allowed ? 0 : waitUntil(p.limit - cost),
      emptyForUs: after + 1 > p.limit ? waitUntil(p.limit - 1) : 0,
    }
    const ttlUs = current > 0 ? 2 * period - elapsed : period - elapsed
    return { state: current > 0 || previous > 0 ? { window, current, previous } : undefined, ttlUs, outcome }
  },
}

/**
 * The sliding log: the time of every unit spent in the last period, sorted (µs). Exact — any window
 * of one period holds at most `limit` — at the cost of one entry per unit.
 */
export const slidingLog: Model<readonly number[]> = {
  step(state, nowUs, cost, carry, p): Step<readonly number[]> {
    const since = nowUs - p.periodUs
    const log = (state ?? []).filter((at) => at > since)
    for (let i = 0; i < Math.ceil(carry); i++) log.push(nowUs)
    const allowed = log.length + cost <= p.limit
    if (allowed) for (let i = 0; i < cost; i++) log.push(nowUs)
    // The k-th oldest entry (1-based) leaves the window at its time + period.
    const leaves = (k: number): number => (log[k - 1] ?? nowUs) + p.periodUs - nowUs
    const newest = log[log.length - 1]
    const outcome = {
      allowed,
      remaining: Math.max(0, p.limit - log.length),
      resetAfterUs: newest === undefined ? 0 : newest + p.periodUs - nowUs,
      retryAfterUs: allowed ? 0 : leaves(log.length + cost - p.limit),
      emptyForUs: log.length >= p.limit ? leaves(log.length - p.limit + 1) : 0,
    }
    return { state: log.length > 0 ? log : undefined, ttlUs: outcome.resetAfterUs, outcome }
  },
}
