import { describe, expect, it } from 'vitest'
import { sleep, waitFor } from '../src/wait-for'

describe('waitFor', () => {
  it('resolves with the first truthy value of a sync predicate', async () => {
    let calls = 0
    const value = await waitFor(() => (++calls >= 3 ? { calls } : undefined), { interval: 5 })
    expect(value).toEqual({ calls: 3 })
  })

  it('awaits an async predicate and treats a throw as "not yet"', async () => {
    let calls = 0
    const value = await waitFor(
      async () => {
        await sleep(1)
        if (++calls < 3) throw new Error('not ready')
        return 'ready'
      },
      { interval: 5 },
    )
    expect(value).toBe('ready')
  })

  it('times out with the message and the last error as cause', async () => {
    const started = performance.now()
    const error: unknown = await waitFor(
      () => {
        throw new Error('replica lag 3 s')
      },
      { timeout: 200, message: 'replica catches up' },
    ).catch((e: unknown) => e)
    expect(performance.now() - started).toBeGreaterThanOrEqual(190)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).message).toMatch(
      /timed out after 200 ms .*replica catches up; last error: replica lag 3 s/,
    )
    expect((error as Error).cause).toEqual(new Error('replica lag 3 s'))
  })

  it('abandons an attempt that hangs past the deadline', async () => {
    const started = performance.now()
    await expect(
      waitFor(() => new Promise<boolean>(() => undefined), { timeout: 200, message: 'never' }),
    ).rejects.toThrow(/never/)
    // Generous: proves it did not hang for good.
    expect(performance.now() - started).toBeLessThan(5000)
  })
})

describe('sleep', () => {
  it('waits at least the given time', async () => {
    const started = performance.now()
    await sleep(50)
    expect(performance.now() - started).toBeGreaterThanOrEqual(45)
  })
})
