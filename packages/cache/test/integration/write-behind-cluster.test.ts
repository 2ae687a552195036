import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { jsonCodec } from '../../src/codec'
import { createWriteBehind } from '../../src/write-behind/index'
import type { WriteBehindDeps } from '../../src/write-behind/index'
import { recorder, writeBehindConformance } from './fixtures/write-behind-suite'

// The local Redis Cluster from `scripts/services.sh up --redis-cluster`. Each queue's keys share one
// hash tag, so its MULTI blocks and its Lua scripts stay on one slot.
const filePrefix = uniqueName('wb_cluster')
let cluster: Cluster

function deps(extra: Partial<WriteBehindDeps> = {}): WriteBehindDeps {
  return { namespace: 'wb-cluster', redis: cluster, keyPrefix: `${filePrefix}:{${uniqueName('q')}}`, codec: jsonCodec, timeoutMs: 2_000, ...extra }
}

beforeAll(async () => {
  await requireServices('redisCluster')
  cluster = new Cluster([...serviceUrls.redisClusterNodes])
  await waitFor(() => cluster.status === 'ready', { timeout: 10_000, message: 'cluster ready' })
})

afterAll(async () => {
  await Promise.all(
    cluster.nodes('master').map(async (node) => {
      const keys = await node.keys(`${filePrefix}:*`)
      // One DEL per key: keys of different queues live on different slots.
      for (const key of keys) await node.del(key)
    }),
  )
  cluster.disconnect()
})

writeBehindConformance('redis cluster', (options, extra) => createWriteBehind(options, deps(extra)))

describe('write-behind on a Redis Cluster', () => {
  it('keeps every key of a queue on one slot and flushes through a duplicate cluster connection', async () => {
    const queueDeps = deps()
    const store = recorder<number>()
    const queue = createWriteBehind({ name: 'slots', write: store.write }, queueDeps)
    try {
      for (let i = 0; i < 20; i += 1) await queue.set(`user:${i}`, i)
      await queue.flush()
      expect(store.batches.flat()).toHaveLength(20)
      const slots = await Promise.all(
        ['stream', 'leader'].map((suffix) => cluster.call('CLUSTER', 'KEYSLOT', `${queueDeps.keyPrefix}:${suffix}`)),
      )
      expect(new Set(slots).size).toBe(1)
    } finally {
      await queue.close()
    }
    expect(cluster.status).toBe('ready')
  })
})
