import { createQueue, defineMessage } from '@scalekit/queue'
import { serviceUrls, sleep, uniqueName, waitFor } from '@scalekit/test-utils'
import { describe, expect, it } from 'vitest'
import { createHealth, createShutdown } from '../../src/index'

const schema = {
  '~standard': {
    version: 1 as const,
    vendor: 'test',
    types: undefined as unknown as { input: { n: number }; output: { n: number } },
    validate: (value: unknown) =>
      typeof value === 'object' && value !== null && typeof (value as { n?: unknown }).n === 'number'
        ? { value: value as { n: number } }
        : { issues: [{ message: 'n must be a number' }] },
  },
}

describe('shutdown with queue consumers on RabbitMQ', () => {
  it('drains consumers mid-stream: no message is lost, the rest is handled by the next instance', async () => {
    const app = uniqueName('obs_shutdown')
    const Work = defineMessage(`${app}.work`, schema)
    const handled = new Set<number>()
    const first = createQueue({ url: serviceUrls.amqp, app })
    first.consume(
      Work,
      async (job) => {
        await sleep(100) // the work itself
        handled.add(job.n)
      },
      { group: 'work', concurrency: 2 },
    )
    const total = 60
    await Promise.all(Array.from({ length: total }, (_, n) => first.publish(Work, { n })))
    await waitFor(() => handled.size >= 2)

    const health = createHealth()
    const shutdown = createShutdown({ health, readinessDelay: 0, timeout: '10s', exit: false, signals: [] })
    shutdown.drain(first, 'queue')
    const report = await shutdown.shutdown('test')
    expect(report.ok).toBe(true)
    expect(health.accepting).toBe(false)
    const byFirst = handled.size
    expect(byFirst).toBeLessThan(total)

    const second = createQueue({ url: serviceUrls.amqp, app })
    try {
      second.consume(
        Work,
        (job) => {
          handled.add(job.n)
          return Promise.resolve()
        },
        { group: 'work', concurrency: 4 },
      )
      await waitFor(() => handled.size === total, { timeout: 30_000 })
      expect([...handled].sort((a, b) => a - b)).toEqual(Array.from({ length: total }, (_, n) => n))
    } finally {
      await second.close({ timeout: '2s' })
    }
  })
})
