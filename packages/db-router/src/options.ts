import type { Pool, PoolConfig } from 'pg'
import type { BalancePolicy } from './balancing'
import { BALANCE_POLICIES } from './balancing'
import { DbRouterOptionsError } from './errors'
import { type Duration, toMs } from './internal/duration'

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
    /** HMAC-SHA256 key: tokens are signed and unsigned or forged ones refused (`ERR_DB_INVALID_TOKEN`). At least 32 bytes. @default unsigned tokens */
    secret?: string | Uint8Array
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
  /** The opossum circuit breaker of each node; only connection errors and timeouts count. */
  breaker?: {
    /** @default 50 */
    errorThresholdPercentage?: number
    /** How long an open breaker waits before letting one trial call through. @default 5000 */
    resetTimeout?: Duration
    /**
     * Calls in the rolling window (10 s) before the breaker may open. The window holds the calls
     * since the node's first counted failure: a healthy node's calls skip the breaker. @default 5
     */
    volumeThreshold?: number
  }
  /** Statement classification. */
  classification?: {
    /** Functions known not to write (names, optionally `schema.name`), on top of the `pg_proc` lookup. @default [] */
    readFunctions?: readonly string[]
    /** Functions that write or need the primary's session; a statement calling one goes to the primary. @default [] (a built-in list is always applied) */
    writeFunctions?: readonly string[]
    /** Look up unknown functions' volatility in `pg_proc` (once per name): non-catalog VOLATILE or unknown → primary. `false`: unknown non-listed functions → primary. @default true */
    lookupFunctions?: boolean
    /** Decisions cached by statement text. @default 10_000 */
    cacheSize?: number
  }
  /** Attempts of one read across nodes (connection errors, recovery conflicts). Writes are never retried. @default 3 */
  maxReadAttempts?: number
}

/** The options after defaults and validation; durations in ms. */
export interface ResolvedOptions {
  balance: BalancePolicy
  consistency: { maxWait: number; pollInterval: number; secret: Uint8Array | undefined }
  health: { interval: number; timeout: number; fall: number; rise: number; maxLagBytes: number; maxLagSeconds: number; readmitRatio: number }
  fallback: { toPrimary: boolean; maxPerSecond: number }
  timeouts: { connect: number; query: number }
  breaker: { errorThresholdPercentage: number; resetTimeout: number; volumeThreshold: number }
  classification: { readFunctions: readonly string[]; writeFunctions: readonly string[]; lookupFunctions: boolean; cacheSize: number }
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
  health: { interval: 1000, timeout: 1000, fall: 2, rise: 2, maxLagBytes: 16 * 1024 * 1024, maxLagSeconds: 10, readmitRatio: 0.5 },
  fallback: { toPrimary: true, maxPerSecond: Number.POSITIVE_INFINITY },
  timeouts: { connect: 5000, query: 30_000 },
  breaker: { errorThresholdPercentage: 50, resetTimeout: 5000, volumeThreshold: 5 },
  classification: { lookupFunctions: true, cacheSize: 10_000 },
  maxReadAttempts: 3,
}

function positiveInt(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback
  if (!Number.isInteger(v) || v <= 0) throw new DbRouterOptionsError(`${name} must be a positive integer, got ${String(v)}`)
  return v
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const v = value ?? fallback
  if (typeof v !== 'number' || Number.isNaN(v) || v <= 0) throw new DbRouterOptionsError(`${name} must be a positive number, got ${String(v)}`)
  return v
}

function nameList(value: readonly string[] | undefined, name: string): readonly string[] {
  if (value === undefined) return []
  const list: unknown = value
  if (!Array.isArray(list) || list.some((v) => typeof v !== 'string' || v === '')) {
    throw new DbRouterOptionsError(`${name} must be an array of function names`)
  }
  return (list as string[]).map((v) => v.toLowerCase())
}

function secretBytes(secret: string | Uint8Array | undefined): Uint8Array | undefined {
  if (secret === undefined) return undefined
  const bytes = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret
  if (!(bytes instanceof Uint8Array) || bytes.byteLength < 32) {
    throw new DbRouterOptionsError('consistency.secret must be a string or bytes of at least 32 bytes')
  }
  return bytes
}

/** Applies defaults and validates everything but the node sources; throws `DbRouterOptionsError` naming the option. */
export function resolveOptions(options: DbRouterOptions): ResolvedOptions {
  const balance = options.balance ?? defaults.balance
  if (!BALANCE_POLICIES.includes(balance)) {
    throw new DbRouterOptionsError(`balance must be one of ${BALANCE_POLICIES.join(', ')}, got ${JSON.stringify(balance)}`)
  }
  const c = options.consistency ?? {}
  const h = options.health ?? {}
  const f = options.fallback ?? {}
  const t = options.timeouts ?? {}
  const b = options.breaker ?? {}
  const cl = options.classification ?? {}
  const threshold = b.errorThresholdPercentage ?? defaults.breaker.errorThresholdPercentage
  if (!(threshold > 0 && threshold <= 100)) throw new DbRouterOptionsError('breaker.errorThresholdPercentage must be in (0, 100]')
  const readmitRatio = h.readmitRatio ?? defaults.health.readmitRatio
  if (!(readmitRatio > 0 && readmitRatio <= 1)) throw new DbRouterOptionsError('health.readmitRatio must be in (0, 1]')
  const maxPerSecond = f.maxPerSecond ?? defaults.fallback.maxPerSecond
  if (!(maxPerSecond >= 0)) throw new DbRouterOptionsError('fallback.maxPerSecond must be >= 0')
  const interval = toMs(h.interval ?? defaults.health.interval, 'health.interval')
  const query = toMs(t.query ?? defaults.timeouts.query, 'timeouts.query')
  const connect = toMs(t.connect ?? defaults.timeouts.connect, 'timeouts.connect')
  const checkTimeout = toMs(h.timeout ?? defaults.health.timeout, 'health.timeout')
  for (const [name, v] of [['health.interval', interval], ['timeouts.query', query], ['timeouts.connect', connect], ['health.timeout', checkTimeout]] as const) {
    if (v === 0) throw new DbRouterOptionsError(`${name} must be greater than 0`)
  }
  return {
    balance,
    consistency: {
      maxWait: toMs(c.maxWait ?? defaults.consistency.maxWait, 'consistency.maxWait'),
      pollInterval: Math.max(1, toMs(c.pollInterval ?? defaults.consistency.pollInterval, 'consistency.pollInterval')),
      secret: secretBytes(c.secret),
    },
    health: {
      interval,
      timeout: checkTimeout,
      fall: positiveInt(h.fall, defaults.health.fall, 'health.fall'),
      rise: positiveInt(h.rise, defaults.health.rise, 'health.rise'),
      maxLagBytes: positive(h.maxLagBytes, defaults.health.maxLagBytes, 'health.maxLagBytes'),
      maxLagSeconds: positive(h.maxLagSeconds, defaults.health.maxLagSeconds, 'health.maxLagSeconds'),
      readmitRatio,
    },
    fallback: { toPrimary: f.toPrimary ?? defaults.fallback.toPrimary, maxPerSecond },
    timeouts: { connect, query },
    breaker: {
      errorThresholdPercentage: threshold,
      resetTimeout: toMs(b.resetTimeout ?? defaults.breaker.resetTimeout, 'breaker.resetTimeout'),
      volumeThreshold: positiveInt(b.volumeThreshold, defaults.breaker.volumeThreshold, 'breaker.volumeThreshold'),
    },
    classification: {
      readFunctions: nameList(cl.readFunctions, 'classification.readFunctions'),
      writeFunctions: nameList(cl.writeFunctions, 'classification.writeFunctions'),
      lookupFunctions: cl.lookupFunctions ?? defaults.classification.lookupFunctions,
      cacheSize: positiveInt(cl.cacheSize, defaults.classification.cacheSize, 'classification.cacheSize'),
    },
    maxReadAttempts: positiveInt(options.maxReadAttempts, defaults.maxReadAttempts, 'maxReadAttempts'),
  }
}
