import { Redis } from 'ioredis'
import { serviceUrls } from '@scalekit/test-utils'

/** A raw client on the shared Redis for a test file, and the cleanup that deletes everything its namespace left. */
export function sharedRedis(namespace: string): { redis: Redis; cleanup: () => Promise<void> } {
  const redis = new Redis(serviceUrls.redis)
  return {
    redis,
    cleanup: async () => {
      const keys = await redis.keys(`*${namespace}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    },
  }
}
