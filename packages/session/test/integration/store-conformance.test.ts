import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { runSessionStoreConformance } from '../../src/conformance/index'
import { createMemoryStore, createRedisStore } from '../../src/index'

let standalone: Redis
let cluster: Cluster
beforeAll(async () => {
  await requireServices('redis', 'redisCluster')
  standalone = new Redis(serviceUrls.redis)
  cluster = new Cluster(serviceUrls.redisClusterNodes.map((n) => ({ host: n.host, port: n.port })))
})
afterAll(() => {
  standalone.disconnect()
  cluster.disconnect()
})

runSessionStoreConformance(
  { describe, it, expect },
  { name: 'memory', createStore: () => createMemoryStore() },
)
runSessionStoreConformance(
  { describe, it, expect },
  {
    name: 'Redis standalone',
    createStore: () => createRedisStore({ redis: standalone, prefix: uniqueName('conf') }),
  },
)
runSessionStoreConformance(
  { describe, it, expect },
  {
    name: 'Redis Cluster',
    createStore: () => createRedisStore({ redis: cluster, prefix: uniqueName('conf') }),
  },
)
