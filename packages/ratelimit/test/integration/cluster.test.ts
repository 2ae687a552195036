import fc from 'fast-check'
import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { ALGORITHMS, gcraParams } from '../../src/algorithms'
import { createRateLimiter, type Decision } from '../../src/index'
import { arrival, expectScriptMatchesModel } from '../support/replay'

// The local Redis Cluster (3 masters + 3 replicas) from `scripts/services.sh up --redis-cluster`.
const namespace = uniqueName('rl-cluster')
  .replace(/[^A-Za-z0-9_.:-]/g, '-')
  .slice(0, 60)
let cluster: Cluster
let single: Redis

beforeAll(async () => {
  await requireServices('redisCluster')
  cluster = new Cluster([...serviceUrls.redisClusterNodes])
  single = new Redis(serviceUrls.redis)
  // Connected (slots known) before the first decision, as an app's client is after start-up.
  await cluster.ping()
})

afterAll(async () => {
  for (const node of cluster.nodes('master')) {
    const keys = await node.keys(`rl:${namespace}*`)
    for (const key of keys) await cluster.del(key)
  }
  const keys = await single.keys(`rl:${namespace}*`)
  if (keys.length > 0) await single.del(...keys)
  cluster.disconnect()
  single.disconnect()
})

describe('on a real Redis Cluster', () => {
  it.each(ALGORITHMS)('%s decides like a single Redis, on keys spread over every slot', async (algorithm) => {
    const windowed = algorithm !== 'gcra' && algorithm !== 'token-bucket'
    const options = {
      namespace,
      algorithm,
      limit: 5,
      period: '1h',
      ...(windowed ? {} : { burst: 3 }),
      // Redis decides every one: on a loaded machine a round trip can pass the 100 ms default, and
      // the local fallback would then answer instead.
      timeout: '5s',
    } as const
    await using onCluster = createRateLimiter({ ...options, redis: cluster })
    await using onSingle = createRateLimiter({ ...options, redis: single, localBlock: false })
    const keys = Array.from({ length: 40 }, (_, i) => `user:${i}`)
    const costs = [1, 2, 0, 1, 3, 1, 1]
    const run = async (limiter: typeof onCluster): Promise<[boolean, number][][]> =>
      Promise.all(
        keys.map(async (key) => {
          const out: Decision[] = []
          for (const cost of costs)
            out.push(await limiter.take(key, { cost: Math.min(cost, limiter.policy.burst) }))
          return out.map((d) => [d.allowed, d.remaining] as [boolean, number])
        }),
      )
    const [a, b] = await Promise.all([run(onCluster), run(onSingle)])
    expect(a).toEqual(b)
    expect(a.flat().some(([allowed]) => !allowed)).toBe(true)
    expect(onCluster.health().status).toBe('ok')
  })

  it('GCRA on the cluster agrees with the reference model over random arrival sequences', async () => {
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(arrival(6), { minLength: 1, maxLength: 20 }), async (arrivals) => {
        await expectScriptMatchesModel(
          cluster,
          `rl:${namespace}:prop:${run++}`,
          'gcra',
          gcraParams(5, 30, 4),
          arrivals,
        )
      }),
      { numRuns: 25 },
    )
  })
})
