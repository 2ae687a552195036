/**
 * What the example reads from the environment. Nothing set = the embedded default: everything
 * runs in this one process, with no server to install.
 */
export interface AppConfig {
  /** `DATABASE_URL`: the PostgreSQL primary; unset = an embedded Postgres (PGlite over its wire protocol). */
  readonly databaseUrl: string | undefined
  /** `DATABASE_REPLICA_URLS`: comma-separated replica URLs; unset = reads on the primary. */
  readonly replicaUrls: readonly string[]
  /**
   * `DATABASE_SHARD_URLS`: comma-separated shard primaries: orders (and their e-mails) sharded by
   * customer, a hash of `user_id`; unset = the orders live in the main database (one shard).
   * The number of shards is fixed for a database's life (order ids are spaced by it).
   */
  readonly shardUrls: readonly string[]
  /** `REDIS_URL`: cache L2, refresh-token families and revocations, shared rate limits; unset = memory. */
  readonly redisUrl: string | undefined
  /**
   * `REDIS_CLUSTER_NODES`: comma-separated `host:port` seeds of a Redis Cluster; wins over
   * `REDIS_URL` and is used wherever it would be.
   */
  readonly redisClusterNodes: readonly string[]
  /** `AMQP_URL`: RabbitMQ (one URL, or comma-separated URLs of one cluster's nodes); unset = the in-memory queue transport (one process, not durable). */
  readonly amqpUrl: string | undefined
  /** `DB_SCHEMA`: the Postgres schema of the example's tables. @default 'shop' */
  readonly schema: string
  /** `TOKEN_SECRET`: signs consistency tokens (≥ 32 bytes). A development value when unset. */
  readonly tokenSecret: string
  /** `APP_NAME`: names the queue's exchange/queues and the cache namespace. @default 'shop' */
  readonly appName: string
  /**
   * `SIMULATE_FAULTS=1`: an order may ask the worker's e-mail stub to fail its first attempts
   * (`simulate: { emailFailures }`), to watch retries and dead-letters. Off unless set (the demo and tests set it).
   */
  readonly simulateFaults: boolean
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const set = (name: string): string | undefined => {
    const value = env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }
  const schema = set('DB_SCHEMA') ?? 'shop'
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema))
    throw new Error(`DB_SCHEMA must match [a-z_][a-z0-9_]*, got ${schema}`)
  const list = (name: string): string[] =>
    (set(name) ?? '')
      .split(',')
      .map((url) => url.trim())
      .filter((url) => url !== '')
  return {
    databaseUrl: set('DATABASE_URL'),
    replicaUrls: list('DATABASE_REPLICA_URLS'),
    shardUrls: list('DATABASE_SHARD_URLS'),
    redisUrl: set('REDIS_URL'),
    redisClusterNodes: list('REDIS_CLUSTER_NODES'),
    amqpUrl: set('AMQP_URL'),
    schema,
    tokenSecret: set('TOKEN_SECRET') ?? 'dev only: not a secret, at least 32 bytes long',
    appName: set('APP_NAME') ?? 'shop',
    simulateFaults: set('SIMULATE_FAULTS') === '1',
  }
}

/** One line per part: which backend it runs on. */
export function describeModes(
  config: AppConfig,
): Record<'database' | 'orders' | 'cache' | 'queue' | 'sessions', string> {
  const redis =
    config.redisClusterNodes.length > 0
      ? 'Redis Cluster'
      : config.redisUrl === undefined
        ? undefined
        : 'Redis'
  return {
    database: config.databaseUrl
      ? `PostgreSQL (${config.replicaUrls.length} replica${config.replicaUrls.length === 1 ? '' : 's'})`
      : 'embedded Postgres (PGlite)',
    orders:
      config.shardUrls.length > 0
        ? `sharded by customer over ${config.shardUrls.length} PostgreSQL shard${config.shardUrls.length === 1 ? '' : 's'}`
        : 'one shard: the main database',
    cache: redis === undefined ? 'memory L1 only' : `memory L1 + ${redis} L2`,
    queue: config.amqpUrl
      ? config.amqpUrl.includes(',')
        ? `RabbitMQ cluster (${config.amqpUrl.split(',').length} nodes)`
        : 'RabbitMQ'
      : "in-memory transport ('memory:', this process only, not durable)",
    sessions: redis
      ? `JWT, refresh families and revocations in ${redis}`
      : 'JWT, refresh families and revocations in memory (this instance only; a restart forgets every login)',
  }
}
