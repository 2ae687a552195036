import { afterAll, describe, expect, it } from 'vitest'
import { runWorkers, uniqueName } from '@scalekit/test-utils'
import { sharedRedis } from './support'

const namespace = uniqueName('stampede')
const { redis, cleanup } = sharedRedis(namespace)
afterAll(cleanup)

describe('stampede protection across processes', () => {
  it('4 processes x 250 concurrent callers on one cold key run the factory once in total', async () => {
    const results = await runWorkers<{ calls: number; distinct: number[] }>({
      script: new URL('./fixtures/stampede-worker.ts', import.meta.url),
      count: 4,
      args: [namespace, 'cold-key', '250'],
      startTogether: true,
      timeoutMs: 30_000,
    })
    const total = results.reduce((sum, r) => sum + r.calls, 0)
    expect(total).toBe(1)
    expect(Number(await redis.get(`${namespace}:factory-calls`))).toBe(1)
    // Every caller in every process got the one value that was built.
    expect(new Set(results.flatMap((r) => r.distinct)).size).toBe(1)
  })
})
