/**
 * What the example reads from the environment. Nothing set = the embedded default: everything
 * runs in this one process, with no server to install.
 */
export interface AppConfig {
  /** `DATABASE_URL`: the PostgreSQL primary; unset = an embedded Postgres (PGlite over its wire protocol). */
  readonly databaseUrl: string | undefined
  /** `DATABASE_REPLICA_URLS`: comma-separated replica URLs; unset = reads on the primary. */
  readonly replicaUrls: readonly string[]
  /** `REDIS_URL`: cache L2, refresh-token families and revocations, shared rate limits; unset = memory. */
  readonly redisUrl: string | undefined
  /** `AMQP_URL`: RabbitMQ; unset = the in-memory queue transport (one process, not durable). */
  readonly amqpUrl: string | undefined
  /** `DB_SCHEMA`: the Postgres schema of the example's tables. @default 'shop' */
  readonly schema: string
  /** `TOKEN_SECRET`: signs consistency tokens (≥ 32 bytes). A development value when unset. */
  readonly tokenSecret: string
  /** `APP_NAME`: names the queue's exchange/queues and the cache namespace. @default 'shop' */
  readonly appName: string
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const set = (name: string): string | undefined => {
    const value = env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }
  const schema = set('DB_SCHEMA') ?? 'shop'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new Error(`DB_SCHEMA must match [a-z_][a-z0-9_]*, got ${schema}`)
  return {
    databaseUrl: set('DATABASE_URL'),
    replicaUrls: (set('DATABASE_REPLICA_URLS') ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== ''),
    redisUrl: set('REDIS_URL'),
    amqpUrl: set('AMQP_URL'),
    schema,
    tokenSecret: set('TOKEN_SECRET') ?? 'dev only: not a secret, at least 32 bytes long',
    appName: set('APP_NAME') ?? 'shop',
  }
}

/** One line per part: which backend it runs on. */
export function describeModes(
  config: AppConfig,
): Record<'database' | 'cache' | 'queue' | 'sessions', string> {
  return {
    database: config.databaseUrl
      ? `PostgreSQL (${config.replicaUrls.length} replica${config.replicaUrls.length === 1 ? '' : 's'})`
      : 'embedded Postgres (PGlite)',
    cache: config.redisUrl ? 'memory L1 + Redis L2' : 'memory L1 only',
    queue: config.amqpUrl ? 'RabbitMQ' : "in-memory transport ('memory:', this process only, not durable)",
    sessions: config.redisUrl
      ? 'JWT, refresh families and revocations in Redis'
      : 'JWT, stateless (no Redis: refresh reuse is not tracked)',
  }
}
