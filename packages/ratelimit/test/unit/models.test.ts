import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { gcra, gcraParams, models } from '../../src/algorithms'

/** Runs a model over (time µs, cost) arrivals from an empty key; returns the allowed ones. */
function allowedOf(
  algorithm: keyof typeof models,
  p: ReturnType<typeof gcraParams>,
  arrivals: [number, number][],
) {
  let state: unknown
  const allowed: [number, number][] = []
  for (const [at, cost] of arrivals) {
    const step = models[algorithm].step(state, at, cost, 0, p)
    state = step.state
    if (step.outcome.allowed) allowed.push([at, cost])
  }
  return allowed
}

/** The most units allowed in any window [t, t + width) (µs). */
function busiestWindow(allowed: [number, number][], width: number): number {
  let best = 0
  let sum = 0
  let from = 0
  for (const [at, cost] of allowed) {
    sum += cost
    while ((allowed[from] as [number, number])[0] <= at - width)
      sum -= (allowed[from++] as [number, number])[1]
    best = Math.max(best, sum)
  }
  return best
}

const arrivals = fc
  .array(fc.tuple(fc.integer({ min: 0, max: 3_000 }), fc.integer({ min: 0, max: 3 })), { maxLength: 300 })
  .map((steps) => {
    let at = 1_700_000_000_000_000
    return steps.map(([gap, cost]): [number, number] => [(at += gap), cost])
  })

describe('GCRA', () => {
  it('lets burst through at once, then one request per interval', () => {
    const p = gcraParams(10, 1000, 3)
    const t0 = 1_700_000_000_000_000
    const at = [0, 0, 0, 0, 99_999, 100_000, 100_000].map((d) => t0 + d)
    expect(
      allowedOf(
        'gcra',
        p,
        at.map((t) => [t, 1]),
      ).map(([t]) => t - t0),
    ).toEqual([0, 0, 0, 100_000])
  })

  it('never allows more than limit + burst in any window of one period (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 20 }),
        arrivals,
        (limit, burst, seq) => {
          const p = gcraParams(limit, 50, burst)
          expect(busiestWindow(allowedOf('gcra', p, seq), p.periodUs)).toBeLessThanOrEqual(limit + burst)
        },
      ),
    )
  })

  it('reports what it decided: remaining, retryAfter and resetAfter', () => {
    const p = gcraParams(10, 1000, 2)
    const t0 = 1_700_000_000_000_000
    const first = gcra.step(undefined, t0, 1, 0, p)
    expect(first.outcome).toEqual({
      allowed: true,
      remaining: 1,
      resetAfterUs: 100_000,
      retryAfterUs: 0,
      emptyForUs: 0,
    })
    const second = gcra.step(first.state, t0, 1, 0, p)
    expect(second.outcome).toEqual({
      allowed: true,
      remaining: 0,
      resetAfterUs: 200_000,
      retryAfterUs: 0,
      emptyForUs: 100_000,
    })
    const third = gcra.step(second.state, t0 + 40_000, 1, 0, p)
    expect(third.outcome).toMatchObject({
      allowed: false,
      remaining: 0,
      retryAfterUs: 60_000,
      emptyForUs: 60_000,
    })
  })
})

describe('the window algorithms', () => {
  it.each(['sliding-log', 'sliding-window'] as const)(
    '%s never allows more than limit in any window of one period',
    (algorithm) => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 20 }), arrivals, (limit, seq) => {
          const p = gcraParams(limit, 50, limit)
          // The counter approximation can exceed the exact log's bound only when the previous
          // window's requests were bunched at its end; its documented bound is 2 × limit.
          const bound = algorithm === 'sliding-log' ? limit : 2 * limit
          expect(busiestWindow(allowedOf(algorithm, p, seq), p.periodUs)).toBeLessThanOrEqual(bound)
        }),
      )
    },
  )

  it('the fixed window allows up to 2 × limit across an edge, the others do not', () => {
    const p = gcraParams(10, 1000, 10)
    const edge = 1_700_000_001_000_000
    const seq: [number, number][] = [
      ...Array.from({ length: 10 }, (): [number, number] => [edge - 1_000, 1]),
      ...Array.from({ length: 10 }, (): [number, number] => [edge + 1_000, 1]),
    ]
    expect(allowedOf('fixed-window', p, seq)).toHaveLength(20)
    expect(allowedOf('sliding-log', p, seq)).toHaveLength(10)
    expect(allowedOf('gcra', p, seq)).toHaveLength(10)
  })
})
