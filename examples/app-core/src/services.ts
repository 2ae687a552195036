import { generateKeyPairSync } from 'node:crypto'
import { Redis } from 'ioredis'
import { createCache } from '@scalekit/cache'
import type { Cache } from '@scalekit/cache'
import { createDbRouter } from '@scalekit/db-router'
import type { DbRouter } from '@scalekit/db-router'
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
import { startEmbeddedPostgres } from './embedded-postgres.js'
import type { EmbeddedPostgres } from './embedded-postgres.js'

export type Logger = ReturnType<typeof createLogger>
export type Metrics = ReturnType<typeof createMetrics>
export type Health = ReturnType<typeof createHealth>
export type LoadShedder = ReturnType<typeof createLoadShedder>

/** Everything the routes and the worker use, built once per process from the config. */
export interface Services {
  readonly config: AppConfig
  readonly logger: Logger
  readonly metrics: Metrics
  readonly health: Health
  /** Answers 503 + Retry-After before any handler while the event loop or the heap is overloaded. */
  readonly shed: LoadShedder
  readonly db: DbRouter
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
  if (config.databaseUrl === undefined) embedded = await startEmbeddedPostgres(2 * POOL_SIZE)
  const db = createDbRouter({
    primary: { connectionString: config.databaseUrl ?? embedded!.url, max: POOL_SIZE },
    replicas: [...config.replicaUrls],
    consistency: { secret: config.tokenSecret },
    logger,
  })

  const redis = config.redisUrl === undefined ? undefined : new Redis(config.redisUrl, { lazyConnect: false })
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
    url: config.amqpUrl ?? 'memory:',
    app: config.appName,
    declare: { 'order.placed': ['fulfilment'] },
    logger,
  })
  const tokens = createTokens({
    issuer: 'https://shop.example',
    audience: 'shop-api',
    keys: signingKeys(process.env),
    redis,
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
        await db.close({ timeout: '5s' })
        if (redis !== undefined) await redis.quit().catch(() => undefined)
        await embedded?.close()
      })()
      return closing
    },
  }
}
