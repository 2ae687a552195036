import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import { dedupStoreConformance } from '../../src/conformance'
import { createRedisDedupStore } from '../../src/index'

const redis = new Redis(serviceUrls.redis, { lazyConnect: true })
const prefix = `${uniqueName('dedup_conformance')}:`

afterAll(async () => {
  const keys = await redis.keys(`${prefix}*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
})

// A store per test on one connection, as several consumers of one service share Redis.
dedupStoreConformance('redis', () => createRedisDedupStore({ redis, prefix, ttl: '1m' }), {
  describe,
  it,
  expect,
})
