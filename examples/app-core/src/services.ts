import { generateKeyPairSync } from 'node:crypto'
import { Cluster, Redis } from 'ioredis'
import { createCache } from '@scalekit/cache'
import type { Cache } from '@scalekit/cache'
import { createDbRouter } from '@scalekit/db-router'
import type { DbRouter } from '@scalekit/db-router'
import { createShardedRouter } from '@scalekit/db-router/shards'
import {
  createHealth,
  createLoadShedder,
  createLogger,
  createMetrics,
  instrumentScalekit,
} from '@scalekit/observability'
import { createQueue } from '@scalekit/queue'
import type { Queue } from '@scalekit/queue'
import { createRateLimiter } from '@scalekit/ratelimit'
import type { RateLimiter } from '@scalekit/ratelimit'
import { createSessions, createTokens } from '@scalekit/session'
import type { Sessions, Tokens } from '@scalekit/session'
import type { AppConfig } from './config.js'
import { describeModes } from './config.js'
import { EMBEDDED_POOL_SIZE, startEmbeddedPostgres } from './embedded-postgres.js'
import type { EmbeddedPostgres } from './embedded-postgres.js'

export type Logger = ReturnType<typeof createLogger>
export type Metrics = ReturnType<typeof createMetrics>
export type Health = ReturnType<typeof createHealth>
export type LoadShedder = ReturnType<typeof createLoadShedder>

/**
 * Where orders live: sharded by customer over `DATABASE_SHARD_URLS` (a hash of `user_id` over the
 * shards, `@scalekit/db-router/shards`), or one shard, `main`, that is the main database's router.
 */
export interface OrderShards {
  /** The shards' names, in order (`s0`, `s1`… or `main`). */
  readonly names: readonly string[]
  /** The shard that holds a customer's orders, and its router (each shard is a `createDbRouter` router). */
  of(customerId: number): { readonly name: string; readonly db: DbRouter }
  /** A shard's router by name. */
  router(name: string): DbRouter
}

/** Everything the routes and the worker use, built once per process from the config. */
export interface Services {
  readonly config: AppConfig
  readonly logger: Logger
  readonly metrics: Metrics
  readonly health: Health
  /** Answers 503 + Retry-After before any handler while the event loop or the heap is overloaded. */
  readonly shed: LoadShedder
  readonly db: DbRouter
  /** Orders and their e-mails: on the customer's shard. */
  readonly orders: OrderShards
  readonly cache: Cache
  readonly queue: Queue
  readonly tokens: Tokens
  /** Server sessions (the cart): in Redis with REDIS_URL, else the memory store (one process). */
  readonly sessions: Sessions
  /** The session cookie's signing secret and whether it is `Secure` (`__Host-`; needs HTTPS). */
  readonly cookie: { readonly secret: string; readonly secure: boolean }
  readonly limits: { readonly perIp: RateLimiter; readonly perUser: RateLimiter; readonly login: RateLimiter }
  /** Closes what this process created, in reverse order (the shutdown helper calls the parts it knows). */
  close(): Promise<void>
}

const POOL_SIZE = 10

/** The signing key. A real deployment loads its JWK Set from a secret store (one key for every instance). */
function signingKeys(env: NodeJS.ProcessEnv): { keys: Record<string, unknown>[] } {
  const fromEnv = env['JWT_PRIVATE_JWKS']
  if (fromEnv) return JSON.parse(fromEnv) as { keys: Record<string, unknown>[] }
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'dev-1', alg: 'ES256', use: 'sig' }] }
}

export async function createServices(config: AppConfig, options: { component: string }): Promise<Services> {
  const logger = createLogger({ level: process.env['LOG_LEVEL'] ?? 'info' }).child({
    component: options.component,
  })
  const metrics = createMetrics()
  instrumentScalekit({ metrics })
  logger.info(describeModes(config), 'backends')

  let embedded: EmbeddedPostgres | undefined
  if (config.databaseUrl === undefined) embedded = await startEmbeddedPostgres()
  const db = createDbRouter({
    primary: {
      connectionString: config.databaseUrl ?? embedded!.url,
      max: embedded === undefined ? POOL_SIZE : EMBEDDED_POOL_SIZE,
    },
    replicas: [...config.replicaUrls],
    consistency: { secret: config.tokenSecret },
    logger,
  })
  // Orders sharded by customer when shards are configured; else one shard, the main database.
  const sharded =
    config.shardUrls.length === 0
      ? undefined
      : createShardedRouter({
          shards: Object.fromEntries(
            config.shardUrls.map((url, i) => [
              `s${i}`,
              { primary: { connectionString: url, max: POOL_SIZE } },
            ]),
          ),
          map: { strategy: 'hash' }, // 1024 buckets, split evenly over the shards
          router: { consistency: { secret: config.tokenSecret }, logger },
          logger,
        })
  const orders: OrderShards =
    sharded === undefined
      ? { names: ['main'], of: () => ({ name: 'main', db }), router: () => db }
      : {
          names: sharded.shardNames,
          of: (customerId) => ({ name: sharded.shardOf(customerId), db: sharded.shard(customerId) }),
          router: (name) => sharded.router(name),
        }

  const redis =
    config.redisClusterNodes.length > 0
      ? new Cluster(
          config.redisClusterNodes.map((node) => {
            const [host, port] = node.split(':')
            return { host: host ?? '127.0.0.1', port: Number(port ?? 6379) }
          }),
        )
      : config.redisUrl === undefined
        ? undefined
        : new Redis(config.redisUrl, { lazyConnect: false })
  const cache = createCache({
    namespace: `${config.appName}-catalogue`,
    redis,
    ttl: '1m',
    grace: '5m',
    logger,
  })
  if (config.amqpUrl === undefined)
    logger.warn(
      "queue: in-memory transport ('memory:'): messages live in this process only and are not durable",
    )
  const queue = createQueue({
    // one URL, or the nodes of one RabbitMQ cluster (comma-separated): a lost connection moves to the next node
    url: config.amqpUrl === undefined ? 'memory:' : config.amqpUrl.split(',').map((url) => url.trim()),
    app: config.appName,
    declare: { 'order.placed': ['fulfilment'] },
    logger,
  })
  const tokens = createTokens({
    issuer: 'https://shop.example',
    audience: 'shop-api',
    keys: signingKeys(process.env),
    // refresh families and revocations: in Redis (every instance), else in this process's memory
    ...(redis === undefined ? { store: 'memory' as const } : { redis }),
    accessTokenTtl: '15m',
    // a refresh token presented again within this grace gets the same successor (two tabs); the demo sets 0
    refreshGrace: Number(process.env['REFRESH_GRACE_MS'] ?? 10_000),
    logger,
  })
  const sessions = createSessions(
    redis === undefined ? { idleTimeout: '30m', logger } : { redis, idleTimeout: '30m', logger },
  )
  const cookie = {
    secret: process.env['COOKIE_SECRET'] ?? 'dev only: not a secret, at least 32 bytes long',
    secure: process.env['COOKIE_SECURE'] === '1', // behind HTTPS in production: set COOKIE_SECURE=1
  }
  const ns = process.env['RATE_LIMIT_NAMESPACE'] ?? config.appName
  const perIp = Number(process.env['RATE_LIMIT_PER_IP'] ?? 3000)
  const limits = {
    perIp: createRateLimiter({
      redis,
      namespace: `${ns}-ip`,
      limit: perIp,
      period: '1m',
      burst: perIp,
    }),
    perUser: createRateLimiter({
      redis,
      namespace: `${ns}-user`,
      limit: 600,
      period: '1m',
      burst: 100,
    }),
    login: createRateLimiter({
      redis,
      namespace: `${ns}-login`,
      limit: Number(process.env['LOGIN_RATE_LIMIT'] ?? 5), // a minute, per client address
      period: '1m',
    }),
  }

  const health = createHealth({ timeout: '2s' })
  health.register('db', db)
  if (sharded !== undefined) health.register('shards', sharded)
  health.register('cache', cache)
  health.register('queue', queue)

  const shed = createLoadShedder({
    maxEventLoopDelay: Number(process.env['SHED_EVENT_LOOP_DELAY_MS'] ?? 1000),
    maxHeapUsedRatio: 0.95,
    retryAfter: '5s',
  })

  let closing: Promise<void> | undefined
  return {
    config,
    logger,
    metrics,
    health,
    shed,
    db,
    orders,
    cache,
    queue,
    tokens,
    sessions,
    cookie,
    limits,
    close() {
      closing ??= (async () => {
        shed.close()
        await queue.close({ timeout: '5s' })
        await cache.close()
        await tokens.close()
        await sessions.close()
        await Promise.all(Object.values(limits).map((limiter) => limiter.close()))
        await sharded?.close({ timeout: '5s' })
        await db.close({ timeout: '5s' })
        if (redis !== undefined) await redis.quit().catch(() => undefined)
        await embedded?.close()
      })()
      return closing
    },
  }
}
