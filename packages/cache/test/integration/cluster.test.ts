import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { type Cache, createCache } from '../../src/index'

// The local Redis Cluster (3 masters + 3 replicas) from `scripts/services.sh up --redis-cluster`.
const namespace = uniqueName('cluster')
let clientA: Cluster
let clientB: Cluster
let a: Cache
let b: Cache

beforeAll(async () => {
  await requireServices('redisCluster')
  clientA = new Cluster([...serviceUrls.redisClusterNodes])
  clientB = new Cluster([...serviceUrls.redisClusterNodes])
  a = createCache({ namespace, redis: clientA, timeout: 1_000 })
  b = createCache({ namespace, redis: clientB, timeout: 1_000 })
  await waitFor(() => a.health().l2?.busConnected === true && b.health().l2?.busConnected === true, {
    timeout: 10_000,
  })
})

afterAll(async () => {
  await a.clear()
  await Promise.all([a.close(), b.close()])
  // The cache never closes a client it did not create.
  expect(clientA.status).toBe('ready')
  clientA.disconnect()
  clientB.disconnect()
})

describe('on a real Redis Cluster', () => {
  it('reads, writes, deletes and locks keys spread over every slot without CROSSSLOT errors', async () => {
    const keys = Array.from({ length: 200 }, (_, i) => `user:${i}`)
    await Promise.all(keys.map((k, i) => a.set(k, { i, at: new Date(i) }, { tags: [`group:${i % 7}`] })))
    const read = await Promise.all(keys.map((k) => b.get<{ i: number; at: Date }>(k)))
    expect(read.map((r) => r?.i)).toEqual(keys.map((_, i) => i))
    expect(read[5]?.at).toEqual(new Date(5))
    const masters = clientA.nodes('master')
    const perNode = await Promise.all(masters.map((n) => n.keys(`sk:{${namespace}:user:*`)))
    expect(perNode.filter((list) => list.length > 0).length).toBe(masters.length)

    // Other instances drop their L1 copy when the bus message lands: within the bound, not at once.
    await a.delete('user:1')
    await waitFor(async () => (await b.get('user:1')) === undefined, { timeout: 1_000, interval: 2 })
    await b.invalidateTags(['group:3'])
    await waitFor(async () => (await a.get('user:3')) === undefined, { timeout: 1_000, interval: 2 })
    expect(await a.get('user:4')).toEqual({ i: 4, at: new Date(4) })
  })

  it('runs the factory once across two instances and keeps their L1 coherent', async () => {
    let calls = 0
    const factory = async (): Promise<number> => {
      calls++
      await sleep(50)
      return 7
    }
    const values = await Promise.all([
      ...Array.from({ length: 20 }, () => a.getOrSet('hot', factory)),
      ...Array.from({ length: 20 }, () => b.getOrSet('hot', factory)),
    ])
    expect(calls).toBe(1)
    expect(new Set(values)).toEqual(new Set([7]))
    await a.set('hot', 8)
    await waitFor(async () => (await b.get('hot')) === 8, { timeout: 2_000, interval: 2 })
  })

  it('clear() reaches every master', async () => {
    await a.set('x', 1)
    await a.clear()
    const left = await Promise.all(clientA.nodes('master').map((n) => n.keys(`sk:{${namespace}:*`)))
    expect(left.flat()).toEqual([])
  })
})
