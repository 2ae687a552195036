import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BreakerOpenError, CircuitBreaker } from '../../src/index'
import type { BreakerSettings, BreakerState } from '../../src/index'

/** opossum's semantics, call by call: `admit()` before a call, `succeeded()` / `failed()` after it. */
describe('CircuitBreaker', () => {
  let changes: BreakerState[]
  const settings: BreakerSettings = { errorThresholdPercentage: 50, resetTimeout: 1000, volumeThreshold: 4 }
  const build = (s: Partial<BreakerSettings> = {}): CircuitBreaker =>
    new CircuitBreaker({ ...settings, ...s }, (state) => changes.push(state))
  /** One admitted call that fails or succeeds. */
  const call = (b: CircuitBreaker, ok: boolean): void => {
    expect(b.admit()).toBe(true)
    if (ok) b.succeeded()
    else b.failed()
  }

  beforeEach(() => {
    changes = []
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: 0 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('stays closed below volumeThreshold calls, even when every one fails', () => {
    const b = build()
    for (let i = 0; i < 3; i++) call(b, false)
    expect(b.state).toBe('closed')
    call(b, false)
    expect(b.state).toBe('open')
    expect(changes).toEqual(['open'])
  })

  it('opens only when the failed share is above errorThresholdPercentage', () => {
    const b = build()
    call(b, true)
    call(b, true)
    call(b, false)
    call(b, false) // 2 of 4: 50 %, not above
    expect(b.state).toBe('closed')
    call(b, false) // 3 of 5
    expect(b.state).toBe('open')
  })

  it('refuses calls while open, and counts them as opossum counts every fire', () => {
    const b = build({ volumeThreshold: 1, errorThresholdPercentage: 50 })
    call(b, false)
    expect(b.opened).toBe(true)
    for (let i = 0; i < 5; i++) expect(b.admit()).toBe(false)
    b.close()
    // 1 failure in 7 calls counted: one more failure (2 of 8) leaves it closed.
    call(b, false)
    expect(b.closed).toBe(true)
  })

  it('after resetTimeout lets one trial through (half-open); its success closes it', () => {
    const b = build({ volumeThreshold: 1 })
    call(b, false)
    vi.advanceTimersByTime(999)
    expect(b.admit()).toBe(false)
    vi.advanceTimersByTime(1)
    expect(b.state).toBe('half-open')
    expect(b.opened).toBe(false)
    expect(b.admit()).toBe(true) // the trial
    expect(b.admit()).toBe(false) // others wait for it
    b.succeeded()
    expect(b.state).toBe('closed')
    expect(changes).toEqual(['open', 'half-open', 'closed'])
    expect(b.admit()).toBe(true)
  })

  it("a failed trial opens it again for another resetTimeout, whatever the window's volume", () => {
    const b = build({ volumeThreshold: 1 })
    call(b, false)
    vi.advanceTimersByTime(20_000) // the first failure has left the window
    expect(b.admit()).toBe(true)
    b.failed()
    expect(b.state).toBe('open')
    vi.advanceTimersByTime(999)
    expect(b.state).toBe('open')
    vi.advanceTimersByTime(1)
    expect(b.state).toBe('half-open')
    expect(changes).toEqual(['open', 'half-open', 'open', 'half-open'])
  })

  it('forgets what left the rolling window (10 s by default, moving in tenths)', () => {
    const b = build()
    call(b, false)
    call(b, false)
    call(b, false)
    vi.advanceTimersByTime(10_000)
    call(b, false) // 1 call in the window: below volumeThreshold
    expect(b.state).toBe('closed')
    vi.advanceTimersByTime(9_000) // that one is still in
    call(b, true)
    call(b, false)
    call(b, false) // 3 of 4 in the window
    expect(b.state).toBe('open')
  })

  it('a window of its own size: rollingCountTimeout and rollingCountBuckets', () => {
    const b = build({ rollingCountTimeout: 1000, rollingCountBuckets: 4 })
    for (let i = 0; i < 3; i++) call(b, false)
    vi.advanceTimersByTime(1000)
    call(b, false)
    expect(b.state).toBe('closed')
  })

  it('close() closes an open breaker at once and cancels its reset timer; shutdown() stops the timer', () => {
    const b = build({ volumeThreshold: 1 })
    call(b, false)
    b.close()
    expect(b.closed).toBe(true)
    vi.advanceTimersByTime(5000)
    expect(b.state).toBe('closed')
    b.close() // already closed: nothing
    expect(changes).toEqual(['open', 'closed'])

    const c = build({ volumeThreshold: 1 })
    call(c, false)
    c.shutdown()
    vi.advanceTimersByTime(5000)
    expect(c.state).toBe('open')
  })

  it('success and failure of calls that end after it opened change nothing until half-open', () => {
    const b = build({ volumeThreshold: 1, errorThresholdPercentage: 10 })
    expect(b.admit()).toBe(true) // a slow call, admitted while closed
    call(b, false)
    expect(b.opened).toBe(true)
    b.succeeded()
    b.failed()
    expect(b.state).toBe('open')
    expect(changes).toEqual(['open'])
  })

  it('refusals are BreakerOpenError with code EOPENBREAKER', () => {
    const error = new BreakerOpenError()
    expect(error).toBeInstanceOf(Error)
    expect(error.code).toBe('EOPENBREAKER')
    expect(error.message).toBe('Breaker is open')
  })
})
