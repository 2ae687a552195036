import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis'
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { dedupStoreConformance } from '../../src/conformance'
import { createRedisDedupStore, type DedupRedisClient } from '../../src/index'

// The Redis dedup store on the app's own client, from either major of ioredis (5.9 as `ioredis`,
// 6.1 as `ioredis6`), standalone and on the Redis Cluster (7001–7006). `redis: client` compiling
// for all four is the type-level half: the queue takes the client by structural type.
const clusterNodes = [...serviceUrls.redisClusterNodes]
const clients: Record<string, DedupRedisClient & { disconnect(): void }> = {
  'ioredis 5, standalone': new Redis5(serviceUrls.redis, { lazyConnect: true }),
  'ioredis 6, standalone': new Redis6(serviceUrls.redis, { lazyConnect: true }),
  'ioredis 5, cluster': new Cluster5(clusterNodes, { lazyConnect: true }),
  'ioredis 6, cluster': new Cluster6(clusterNodes, { lazyConnect: true }),
}
const prefix = `${uniqueName('dedup_majors')}:`

beforeAll(async () => {
  await requireServices('redis', 'redisCluster')
})

afterAll(() => {
  // Every key this file wrote expires within the store's ttl (1 min); the clients go.
  for (const client of Object.values(clients)) client.disconnect()
})

for (const [label, redis] of Object.entries(clients)) {
  dedupStoreConformance(label, () => createRedisDedupStore({ redis, prefix, ttl: '1m' }), {
    describe,
    it,
    expect,
  })
}

describe('createRedisDedupStore', () => {
  it('refuses what is not a client, naming redis', () => {
    // @ts-expect-error -- an options object is no client
    expect(() => createRedisDedupStore({ redis: { host: 'localhost', port: 6379 } })).toThrow(
      /redis must be an ioredis \(5 or 6\) Redis or Cluster client, got an object/,
    )
  })
})
