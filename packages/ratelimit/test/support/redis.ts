import { Redis } from 'ioredis'
import { serviceUrls, uniqueName } from '@scalekit/test-utils'

/** A raw client on the shared Redis for a test file, a namespace of its own, and the cleanup that deletes what it left. */
export function sharedRedis(prefix: string): {
  redis: Redis
  namespace: string
  cleanup: () => Promise<void>
} {
  const redis = new Redis(serviceUrls.redis)
  const namespace = uniqueName(prefix)
    .replace(/[^A-Za-z0-9_.:-]/g, '-')
    .slice(0, 64)
  return {
    redis,
    namespace,
    cleanup: async () => {
      const keys = await redis.keys(`*${namespace}*`)
      if (keys.length > 0) await redis.del(...keys)
      redis.disconnect()
    },
  }
}
