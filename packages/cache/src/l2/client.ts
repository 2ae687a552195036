import { backoffDelay } from '@scalekit/internal'
import { Cluster, Redis } from 'ioredis'
import type { RedisInput } from '../options'

/** The ioredis client types the cache drives. */
export type RedisClient = Redis | Cluster

/** Reconnect delays of a client the cache creates: quick at first, at most 2 s apart, spread so instances do not reconnect in step. */
const RECONNECT = { initial: 100, factor: 2, max: 2_000, jitter: 0.5 } as const

/**
 * Resolves the `redis` option. A URL makes a client the cache owns: it connects lazily, pipelines
 * automatically, and fails commands at once while disconnected instead of queueing them (a queued
 * write that lands after a reconnect could overwrite a newer value). Every call is bounded by the
 * breaker's timeout.
 */
export function resolveRedis(
  input: RedisInput,
  timeoutMs: number,
  onError: (error: Error) => void,
): { client: RedisClient; owned: boolean } {
  if (typeof input !== 'string') return { client: input, owned: false }
  const client = new Redis(input, {
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

/** True for an ioredis Cluster client (also one from another copy of ioredis). */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster || (client as { isCluster?: boolean }).isCluster === true
}
