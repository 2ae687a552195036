import { backoffDelay, type RedisClient } from '@scalekit/internal'
import { RateLimitUnavailableError } from '../errors'

/** Reconnect delays of a client the limiter makes: quick at first, at most 2 s apart, spread so instances do not reconnect in step. */
const RECONNECT = { initial: 100, factor: 2, max: 2_000, jitter: 0.5 } as const

/**
 * Makes the limiter's own client from a URL, on first use: ioredis is an optional peer, imported only
 * here. It connects lazily, and a command fails at once when the connection drops
 * (`maxRetriesPerRequest: 0`) rather than riding out 20 reconnects; decisions are bounded by the
 * limiter's timeout anyway.
 */
export async function clientFromUrl(url: string, timeoutMs: number): Promise<RedisClient> {
  let ioredis: typeof import('ioredis')
  try {
    ioredis = await import('ioredis')
  } catch (error) {
    throw new RateLimitUnavailableError(
      'the redis option is a URL, which needs the ioredis package: npm install ioredis (5 or 6), or pass your own client',
      { cause: error },
    )
  }
  const client: RedisClient = new ioredis.Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(1_000, timeoutMs * 10),
    retryStrategy: (attempt) => backoffDelay(RECONNECT, attempt),
  })
  // Connection errors are expected during an outage: they reach the app through the policy, the
  // error channel and one warning per episode; without a listener ioredis prints each one.
  client.on('error', () => undefined)
  return client
}

/**
 * Codes of Redis error replies that mean Redis itself cannot serve (loading, busy, out of memory,
 * read-only replica, cluster down…): they count toward the breaker. Any other reply (a wrong type,
 * a script error) means Redis answered: that says nothing about its health.
 */
const OUTAGE_REPLIES = /^(LOADING|BUSY|OOM|READONLY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|NOREPLICAS|MISCONF)\b/

/** True for an error reply from Redis that is not an outage (a refused command). */
export function refusedByRedis(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === 'ReplyError' || error.name === 'TypeError') &&
    !OUTAGE_REPLIES.test(error.message)
  )
}
