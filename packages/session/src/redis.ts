import type { RedisClient as SdkRedisClient } from '@scalekit/internal'

/**
 * The members of an app's ioredis 5 or 6 client (`Redis` or `Cluster`) this package calls: the
 * SDK's one structural client type, narrowed to what sessions use, so an app's client of either
 * major version fits and the package imports no ioredis type. Every call goes through a Lua script
 * or one plain command, bounded by the caller's timeout.
 */
export type RedisClient = Pick<SdkRedisClient, 'status' | 'eval' | 'evalsha' | 'duplicate'>

/**
 * What the server-session store calls on the app's client: scripts, and plain commands by name
 * (GET, GETEX, SET, GETDEL, DEL).
 */
export type SessionRedisClient = RedisClient & Pick<SdkRedisClient, 'call'>

/** The members of a duplicated client that pub/sub uses. */
export type RedisSubscriber = Pick<SdkRedisClient, 'status' | 'subscribe' | 'on' | 'quit' | 'disconnect'>
