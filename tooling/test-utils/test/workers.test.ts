import { describe, expect, it } from 'vitest'
import { WorkerError } from '../src/errors'
import { waitFor } from '../src/wait-for'
import { runWorkers, spawnWorker } from '../src/workers'

const fixture = (name: string): URL => new URL(`./fixtures/${name}.ts`, import.meta.url)

describe('runWorkers', () => {
  it('runs N real processes and returns their results in index order', async () => {
    const results = await runWorkers<{ index: number; count: number; argv: string[]; env: string }>({
      script: fixture('index-worker'),
      count: 3,
      args: ['--flag'],
      env: { FIXTURE_ENV: 'from-parent' },
      timeoutMs: 30_000,
    })
    expect(results).toEqual(
      [0, 1, 2].map((index) => ({ index, count: 3, argv: ['--flag'], env: 'from-parent' })),
    )
  })

  it("rejects with the failing worker's stderr and kills the others", async () => {
    const error: unknown = await runWorkers({
      script: fixture('failing-worker'),
      count: 3,
      timeoutMs: 30_000,
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(WorkerError)
    expect(error).toMatchObject({ index: 1, exitCode: 3, signal: null })
    expect((error as WorkerError).stderr).toContain('fixture failure')
    expect((error as Error).message).toContain('worker 1 cannot go on: fixture failure')
  })

  it('rejects when a worker outlives timeoutMs', async () => {
    await expect(
      runWorkers({ script: fixture('hanging-worker'), count: 2, timeoutMs: 1500 }),
    ).rejects.toThrow(/did not finish within 1500 ms/)
  })

  it('startTogether releases every worker only once all are ready', async () => {
    const results = await runWorkers<{ readyAt: number; goAt: number }>({
      script: fixture('together-worker'),
      count: 3,
      startTogether: true,
      timeoutMs: 30_000,
    })
    const lastReady = Math.max(...results.map((r) => r.readyAt))
    // The fixture staggers boots by 300 ms; still no worker went before the last was ready.
    for (const { goAt } of results) expect(goAt).toBeGreaterThanOrEqual(lastReady)
  })
})

describe('spawnWorker', () => {
  it('gives a handle to message and SIGKILL a worker mid-run', async () => {
    const worker = spawnWorker({ script: fixture('hanging-worker') })
    const messages: unknown[] = []
    worker.onMessage((message) => messages.push(message))
    await waitFor(() => messages.includes('started'), { timeout: 15_000, message: 'worker starts' })
    await worker.send('ping')
    await waitFor(() => messages.includes('pong'), { message: 'worker answers' })
    expect(worker.pid).toBeGreaterThan(0)

    worker.kill('SIGKILL')
    expect(await worker.exited).toEqual({ code: null, signal: 'SIGKILL' })
    await expect(worker.result).rejects.toThrow(/signal SIGKILL before reporting a result/)
  })

  it('holds a startTogether worker until go()', async () => {
    const worker = spawnWorker<{ readyAt: number; goAt: number }>({
      script: fixture('together-worker'),
      startTogether: true,
    })
    await worker.ready
    const released = Date.now()
    worker.go()
    const { goAt } = await worker.result
    expect(goAt).toBeGreaterThanOrEqual(released)
    expect(await worker.exited).toEqual({ code: 0, signal: null })
  })
})
