import {
  backoffDelay,
  checkRedisInput,
  createChecks,
  isRedisCluster,
  type RedisClient,
} from '@scalekit/internal'
import { Redis } from 'ioredis'
import { CacheOptionsError } from '../errors'

/** The client the cache drives: an ioredis 5 or 6 `Redis` or `Cluster`, by the members it calls. */
export type { RedisClient }

/** True for an ioredis Cluster client (also one from another copy of ioredis). */
export const isCluster: typeof isRedisCluster = isRedisCluster

/** Reconnect delays of a client the cache creates: quick at first, at most 2 s apart, spread so instances do not reconnect in step. */
const RECONNECT = { initial: 100, factor: 2, max: 2_000, jitter: 0.5 } as const

/**
 * Resolves the `redis` option, at construction: a bad one (an empty string, another scheme, an
 * options object) throws `ERR_CACHE_INVALID_OPTIONS` naming `redis`. A URL makes a client the
 * cache owns, from whichever ioredis (5 or 6) is installed: it connects lazily, pipelines
 * automatically, and fails commands at once while disconnected instead of queueing them (a queued
 * write that lands after a reconnect could overwrite a newer value; ioredis 6 would otherwise keep
 * a command ~73 s through 20 reconnects). Every call is bounded by the breaker's timeout.
 */
export function resolveRedis(
  input: unknown,
  timeoutMs: number,
  onError: (error: Error) => void,
): { client: RedisClient; owned: boolean } {
  const checked = checkRedisInput(createChecks(CacheOptionsError), 'redis', input)
  if (typeof checked !== 'string') return { client: checked, owned: false }
  const client: RedisClient = new Redis(checked, {
    lazyConnect: true,
    enableOfflineQueue: false,
    // Commands issued in the same tick share one write: many concurrent hits cost few syscalls.
    enableAutoPipelining: true,
    connectTimeout: Math.max(1_000, timeoutMs * 4),
    maxRetriesPerRequest: 0,
    retryStrategy: (attempt) => backoffDelay(RECONNECT, attempt),
  })
  // Connection errors are expected during an outage: they surface through timeouts and the
  // breaker; without a listener ioredis would print each one as unhandled.
  client.on('error', onError)
  return { client, owned: true }
}
