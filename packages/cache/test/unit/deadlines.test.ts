import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { Deadlines } from '../../src/internal/deadlines'

describe('Deadlines: one timer bounding many calls', () => {
  const timeout = (ms: number): Error => new Error(`timed out after ${ms} ms`)

  it('passes values and errors through when calls finish in time', async () => {
    const deadlines = new Deadlines(200, timeout)
    expect(await deadlines.bound(Promise.resolve(1))).toBe(1)
    const boom = new Error('boom')
    await expect(deadlines.bound(Promise.reject(boom))).rejects.toBe(boom)
  })

  it('rejects every call still pending after the timeout, and only those', async () => {
    const deadlines = new Deadlines(50, timeout)
    const started = performance.now()
    const hung = Array.from({ length: 100 }, () => deadlines.bound(new Promise<never>(() => undefined)))
    const quick = deadlines.bound(sleep(10).then(() => 'quick'))
    const results = await Promise.allSettled(hung)
    // Deadlines are kept in Date.now()'s whole milliseconds: allow that 1 ms.
    expect(performance.now() - started).toBeGreaterThanOrEqual(49)
    expect(results.every((r) => r.status === 'rejected' && (r.reason as Error).message === 'timed out after 50 ms')).toBe(true)
    expect(await quick).toBe('quick')
  })
})
