import { Cluster } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { writeBehindConformance } from '../../src/conformance/index'
import { recorder } from '../../src/conformance/write-behind'
import { type Cache, createCache } from '../../src/index'
import { createWriteBehind } from '../../src/write-behind/index'

// The local Redis Cluster from `scripts/services.sh up --redis-cluster`. Each queue's keys share one
// hash tag, so its MULTI blocks and its Lua scripts stay on one slot.
const filePrefix = uniqueName('wb_cluster')
let cluster: Cluster
let cache: Cache

beforeAll(async () => {
  await requireServices('redisCluster')
  cluster = new Cluster([...serviceUrls.redisClusterNodes])
  await waitFor(() => cluster.status === 'ready', { timeout: 10_000, message: 'cluster ready' })
  cache = createCache({ namespace: filePrefix, redis: cluster, timeout: 2_000 })
})

afterAll(async () => {
  await cache.close()
  await Promise.all(
    cluster.nodes('master').map(async (node) => {
      const keys = await node.keys(`sk:{${filePrefix}*`)
      // One DEL per key: keys of different queues live on different slots.
      for (const key of keys) await node.del(key)
    }),
  )
  cluster.disconnect()
})

writeBehindConformance({ describe, it, afterEach, expect }, 'redis cluster', (options) =>
  createWriteBehind(cache, options),
)

describe('write-behind on a Redis Cluster', () => {
  it('keeps every key of a queue on one slot and flushes through a duplicate cluster connection', async () => {
    const store = recorder<number>()
    const queue = createWriteBehind(cache, { name: 'slots', write: store.write })
    try {
      for (let i = 0; i < 20; i += 1) await queue.set(`user:${i}`, i)
      await queue.flush()
      expect(store.batches.flat()).toHaveLength(20)
      const slots = await Promise.all(
        ['stream', 'leader'].map((suffix) =>
          cluster.call('CLUSTER', 'KEYSLOT', `sk:{${filePrefix}:wb:slots}:${suffix}`),
        ),
      )
      expect(new Set(slots).size).toBe(1)
    } finally {
      await queue.close()
    }
    expect(cluster.status).toBe('ready')
  })
})
