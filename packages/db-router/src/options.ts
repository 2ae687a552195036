import { createChecks, describeValue, type Duration, type Logger, onlyKnownOptions } from '@scalekit/internal'
import type { Pool, PoolConfig } from 'pg'
import type { BalancePolicy } from './balancing'
import { BALANCE_POLICIES } from './balancing'
import { DbRouterOptionsError } from './errors'
import { checkNodeSource } from './internal/node-source'

/** Where a node is: a connection URL, an existing `pg.Pool` (never ended by the router), or a `PoolConfig` (the router owns that pool). */
export type NodeSource = string | Pool | PoolConfig

/** A replica given as a `PoolConfig` with its routing attributes beside the pool's. */
export interface ReplicaConfig extends PoolConfig {
  /** Share of reads under the `weighted` policy, and a cost divisor under `latency`. @default 1 */
  weight?: number
  /** The node's name in channels, errors and `status()`. @default `replica-<index>` */
  name?: string
}

/** A replica given as a URL or pool with its routing attributes. */
export interface ReplicaRef {
  source: NodeSource
  /** @default 1 */
  weight?: number
  /** @default `replica-<index>` */
  name?: string
}

/** One replica: a URL, a `pg.Pool`, a `PoolConfig` (+ `weight`/`name`), or `{ source, weight, name }`. */
export type ReplicaInput = string | Pool | ReplicaConfig | ReplicaRef

/** Options of {@link createDbRouter}. Durations are ms or strings such as `'250ms'`, `'5s'`. */
export interface DbRouterOptions {
  /** The read-write node. Required. */
  primary: NodeSource
  /** Read replicas of `primary`. With none, every statement goes to the primary. @default [] */
  replicas?: readonly ReplicaInput[]
  /** How a read picks among usable replicas. @default 'latency' (EWMA latency × outstanding, power of two choices) */
  balance?: BalancePolicy
  /** Read-your-writes inside a consistency scope. */
  consistency?: {
    /** How long a read in a scope waits for a replica to replay the scope's writes before it goes to the primary; `0` = probe once, never wait. @default 200 */
    maxWait?: Duration
    /** Pause between replay-position probes while waiting. @default 10 */
    pollInterval?: Duration
    /**
     * HMAC-SHA256 key(s): tokens are signed, and unsigned or forged ones refused (`ERR_DB_INVALID_TOKEN`).
     * Each at least 32 bytes. A list rotates keys: the first signs, every one verifies (put the new
     * key first, drop the old one once the tokens it signed have expired). The Express and Fastify
     * adapters accept tokens from clients only when this is set, unless `acceptUnsigned: true`.
     * @default unsigned tokens
     */
    secret?: string | Uint8Array | readonly (string | Uint8Array)[]
  }
  /** Background health and lag check of every node. */
  health?: {
    /** Time between checks. @default 1000 */
    interval?: Duration
    /** Upper bound of one check. @default 1000 */
    timeout?: Duration
    /** Consecutive bad checks (failure or lag over the limit) before a replica is excluded. @default 2 */
    fall?: number
    /** Consecutive good checks before an excluded replica is readmitted. @default 2 */
    rise?: number
    /** Replay lag, in bytes of WAL behind the primary, over which a replica is lagging. @default 16 MiB */
    maxLagBytes?: number
    /** Replay lag in seconds over which a replica is lagging (0 whenever it has replayed all the primary's WAL, so an idle primary never looks like lag). @default 10 */
    maxLagSeconds?: number
    /** A lagging replica is readmitted only once its lag is under this fraction of the limits. @default 0.5 */
    readmitRatio?: number
  }
  /** What a read does when no replica is usable. */
  fallback?: {
    /** Send it to the primary; `false` throws `ERR_DB_NO_REPLICA` instead. @default true */
    toPrimary?: boolean
    /** At most this many such reads per second go to the primary; the rest throw `ERR_DB_NO_REPLICA`. @default Infinity */
    maxPerSecond?: number
  }
  /** Timeouts of every remote call. */
  timeouts?: {
    /** Connection establishment, for pools the router creates. @default 5000 */
    connect?: Duration
    /** Client-side `query_timeout` of each statement unless the call sets its own. @default 30000 */
    query?: Duration
  }
  /** The circuit breaker of each node (opossum's semantics): every statement goes through it; only connection errors and timeouts count as failures. */
  breaker?: {
    /** Share of failed calls in the rolling window (10 s) at which the breaker opens. @default 50 */
    errorThresholdPercentage?: number
    /** How long an open breaker waits before letting one trial call through. @default 5000 */
    resetTimeout?: Duration
    /** Calls in the rolling window (10 s) before the breaker may open, so a few failures of an idle node do not open it. @default 5 */
    volumeThreshold?: number
  }
  /** Statement classification. */
  classification?: {
    /** Functions known not to write (names, optionally `schema.name`), on top of the `pg_proc` lookup. @default [] */
    readFunctions?: readonly string[]
    /** Functions that write or need the primary's session; a statement calling one goes to the primary. @default [] (a built-in list is always applied) */
    writeFunctions?: readonly string[]
    /** Look up unknown functions' volatility in `pg_proc` (once per name): VOLATILE (a built-in too, unless reviewed as a read, like `random()`) or unknown → primary. `false`: unknown non-listed functions → primary. @default true */
    lookupFunctions?: boolean
    /** Decisions cached by statement text. @default 10_000 */
    cacheSize?: number
  }
  /** Attempts of one read across nodes (connection errors, recovery conflicts). Writes are never retried. @default 3 */
  maxReadAttempts?: number
  /**
   * Where trouble is reported (pino's shape: pino, bunyan and `console` fit): a node marked down, a
   * breaker opening, reads falling back to the primary — one warning per episode per minute, with a
   * `code`, never SQL text or parameters. @default Node's process warnings (`process.emitWarning`)
   */
  logger?: Logger
}

/** The options after defaults and validation; durations in ms. */
export interface ResolvedOptions {
  balance: BalancePolicy
  /** `secret`: the signing keys, the first signs; undefined = unsigned tokens. */
  consistency: { maxWait: number; pollInterval: number; secret: readonly Uint8Array[] | undefined }
  health: {
    interval: number
    timeout: number
    fall: number
    rise: number
    maxLagBytes: number
    maxLagSeconds: number
    readmitRatio: number
  }
  fallback: { toPrimary: boolean; maxPerSecond: number }
  timeouts: { connect: number; query: number }
  breaker: { errorThresholdPercentage: number; resetTimeout: number; volumeThreshold: number }
  classification: {
    readFunctions: readonly string[]
    writeFunctions: readonly string[]
    lookupFunctions: boolean
    cacheSize: number
  }
  maxReadAttempts: number
}

/** The type of {@link defaults}. */
export interface Defaults {
  readonly balance: BalancePolicy
  readonly consistency: { readonly maxWait: number; readonly pollInterval: number }
  readonly health: ResolvedOptions['health']
  readonly fallback: ResolvedOptions['fallback']
  readonly timeouts: ResolvedOptions['timeouts']
  readonly breaker: ResolvedOptions['breaker']
  readonly classification: { readonly lookupFunctions: boolean; readonly cacheSize: number }
  readonly maxReadAttempts: number
}

/** Every default in one place (see {@link DbRouterOptions} for what each does and why). */
export const defaults: Defaults = {
  balance: 'latency',
  consistency: { maxWait: 200, pollInterval: 10 },
  health: {
    interval: 1000,
    timeout: 1000,
    fall: 2,
    rise: 2,
    maxLagBytes: 16 * 1024 * 1024,
    maxLagSeconds: 10,
    readmitRatio: 0.5,
  },
  fallback: { toPrimary: true, maxPerSecond: Number.POSITIVE_INFINITY },
  timeouts: { connect: 5000, query: 30_000 },
  breaker: { errorThresholdPercentage: 50, resetTimeout: 5000, volumeThreshold: 5 },
  classification: { lookupFunctions: true, cacheSize: 10_000 },
  maxReadAttempts: 3,
}

const check = createChecks(DbRouterOptionsError)

function nameList(value: readonly string[] | undefined, name: string): readonly string[] {
  if (value === undefined) return []
  const list: unknown = value
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || v === '')) {
    check.fail(`${name} must be an array of function names`)
  }
  return (list as string[]).map((v) => v.toLowerCase())
}

function secretBytes(value: unknown, name: string): Uint8Array {
  const bytes: unknown = typeof value === 'string' ? Buffer.from(value, 'utf8') : value
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < 32)
    return check.fail(`${name} must be a string or bytes of at least 32 bytes, got ${describeValue(value)}`)
  return bytes
}

/** The signing keys: one, or a list (the first signs, all verify); undefined = unsigned tokens. */
function secrets(secret: unknown): readonly Uint8Array[] | undefined {
  if (secret === undefined) return undefined
  if (!Array.isArray(secret)) return [secretBytes(secret, 'consistency.secret')]
  if (secret.length === 0) check.fail('consistency.secret must hold at least one key when it is a list')
  return secret.map((s: unknown, i) => secretBytes(s, `consistency.secret[${i}]`))
}

/** Every option name, by group: any other (a typo) is refused, never ignored. */
const NAMES = {
  '': [
    'primary',
    'replicas',
    'balance',
    'consistency',
    'health',
    'fallback',
    'timeouts',
    'breaker',
    'classification',
    'maxReadAttempts',
    'logger',
  ],
  consistency: ['maxWait', 'pollInterval', 'secret'],
  health: ['interval', 'timeout', 'fall', 'rise', 'maxLagBytes', 'maxLagSeconds', 'readmitRatio'],
  fallback: ['toPrimary', 'maxPerSecond'],
  timeouts: ['connect', 'query'],
  breaker: ['errorThresholdPercentage', 'resetTimeout', 'volumeThreshold'],
  classification: ['readFunctions', 'writeFunctions', 'lookupFunctions', 'cacheSize'],
} as const satisfies Record<string, readonly string[]>

/** An options group checked for being an object and for its names. */
function group<T extends object>(name: Exclude<keyof typeof NAMES, ''>, value: T | undefined): Partial<T> {
  const given = check.group<T>(name, value)
  onlyKnownOptions(check, name, given, NAMES[name])
  return given
}

/** Applies defaults and validates every option (node sources checked, not opened); throws `DbRouterOptionsError` naming the option. */
export function resolveOptions(options: DbRouterOptions): ResolvedOptions {
  onlyKnownOptions(check, '', options, NAMES[''])
  checkNodeSource('primary', options.primary)
  const replicas: unknown = options.replicas
  if (replicas !== undefined && !Array.isArray(replicas))
    check.fail(`replicas must be an array (use [] for none), got ${describeValue(replicas)}`)
  const logger: unknown = options.logger
  if (
    logger !== undefined &&
    (typeof logger !== 'object' ||
      logger === null ||
      typeof (logger as { warn?: unknown }).warn !== 'function')
  ) {
    check.fail(
      `logger must have a warn(obj, msg) method (pino, bunyan, console), got ${describeValue(logger)}`,
    )
  }
  for (const level of ['error', 'info', 'debug'] as const) {
    const method: unknown = (logger as Partial<Logger> | undefined)?.[level]
    if (method !== undefined && typeof method !== 'function')
      check.fail(`logger.${level} must be a function when present, got ${describeValue(method)}`)
  }
  const c = group('consistency', options.consistency)
  const h = group('health', options.health)
  const f = group('fallback', options.fallback)
  const t = group('timeouts', options.timeouts)
  const b = group('breaker', options.breaker)
  const cl = group('classification', options.classification)
  const positive = { min: 1 }
  return {
    balance: check.oneOf('balance', options.balance, defaults.balance, BALANCE_POLICIES),
    consistency: {
      maxWait: check.duration('consistency.maxWait', c.maxWait, defaults.consistency.maxWait),
      // At least 1 ms: a 0 poll would spin on the replicas.
      pollInterval: Math.max(
        1,
        check.duration('consistency.pollInterval', c.pollInterval, defaults.consistency.pollInterval),
      ),
      secret: secrets(c.secret),
    },
    health: {
      interval: check.duration('health.interval', h.interval, defaults.health.interval, positive),
      timeout: check.duration('health.timeout', h.timeout, defaults.health.timeout, positive),
      fall: check.integer('health.fall', h.fall, defaults.health.fall, positive),
      rise: check.integer('health.rise', h.rise, defaults.health.rise, positive),
      maxLagBytes: check.number('health.maxLagBytes', h.maxLagBytes, defaults.health.maxLagBytes, {
        above: 0,
      }),
      maxLagSeconds: check.number('health.maxLagSeconds', h.maxLagSeconds, defaults.health.maxLagSeconds, {
        above: 0,
      }),
      readmitRatio: check.number('health.readmitRatio', h.readmitRatio, defaults.health.readmitRatio, {
        above: 0,
        max: 1,
      }),
    },
    fallback: {
      toPrimary: check.boolean('fallback.toPrimary', f.toPrimary, defaults.fallback.toPrimary),
      maxPerSecond: check.number('fallback.maxPerSecond', f.maxPerSecond, defaults.fallback.maxPerSecond, {
        min: 0,
        allowInfinity: true,
      }),
    },
    timeouts: {
      connect: check.duration('timeouts.connect', t.connect, defaults.timeouts.connect, positive),
      query: check.duration('timeouts.query', t.query, defaults.timeouts.query, positive),
    },
    breaker: {
      errorThresholdPercentage: check.number(
        'breaker.errorThresholdPercentage',
        b.errorThresholdPercentage,
        defaults.breaker.errorThresholdPercentage,
        {
          above: 0,
          max: 100,
        },
      ),
      resetTimeout: check.duration('breaker.resetTimeout', b.resetTimeout, defaults.breaker.resetTimeout),
      volumeThreshold: check.integer(
        'breaker.volumeThreshold',
        b.volumeThreshold,
        defaults.breaker.volumeThreshold,
        positive,
      ),
    },
    classification: {
      readFunctions: nameList(cl.readFunctions, 'classification.readFunctions'),
      writeFunctions: nameList(cl.writeFunctions, 'classification.writeFunctions'),
      lookupFunctions: check.boolean(
        'classification.lookupFunctions',
        cl.lookupFunctions,
        defaults.classification.lookupFunctions,
      ),
      cacheSize: check.integer(
        'classification.cacheSize',
        cl.cacheSize,
        defaults.classification.cacheSize,
        positive,
      ),
    },
    maxReadAttempts: check.integer(
      'maxReadAttempts',
      options.maxReadAttempts,
      defaults.maxReadAttempts,
      positive,
    ),
  }
}
