import { CodedError, defineErrors } from '@scalekit/internal'
import { httpHeadersOf, httpStatusOf } from './http-status'

/**
 * The base class of every error @scalekit/db-router throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not). Errors raised by PostgreSQL itself
 * (a unique violation, a syntax error…) are passed through unchanged as `pg`'s `DatabaseError`, so
 * their `code` stays the SQLSTATE your code already checks.
 */
export class DbRouterError extends CodedError {
  static override readonly code: string = 'ERR_DB'

  /**
   * The HTTP status of this error ({@link httpStatusOf}): Express's and Fastify's default error
   * handlers read `statusCode`, so a router that is closed or has no node to serve answers 503
   * (retry later), not 500, without an error handler of the app's.
   */
  get statusCode(): number {
    return httpStatusOf(this)
  }

  /**
   * Headers for the response to this error, read by Express's and Fastify's default error handlers:
   * `Retry-After` when the wait is known to be short (a bucket being moved); otherwise `undefined`.
   */
  get headers(): Readonly<Record<string, string>> | undefined {
    return httpHeadersOf(this.code)
  }
}

/** Options given to a factory are invalid; thrown at construction, never later. */
export class DbRouterOptionsError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_INVALID_OPTIONS'
}

/**
 * A call got an argument the router does not accept (a callback, a pg `Submittable`, a non-string
 * text, a bad `role`, token or `close()` timeout); thrown before anything is sent, never counted by
 * a breaker.
 */
export class DbRouterArgumentError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_INVALID_ARGUMENT'
}

/** The router was closed: a new call, or one still in flight when `close()`'s timeout ran out. */
export class DbRouterClosedError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_CLOSED'
}

/**
 * The primary could not be reached (connection error, timeout, or its circuit breaker is open).
 * Writes are never retried, so a write that fails this way may or may not have been applied only
 * if the error came after the statement was sent; `cause` holds the driver's error.
 */
export class DbPrimaryUnavailableError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_PRIMARY_UNAVAILABLE'
}

/**
 * The node configured as the primary is read-only (in recovery, e.g. demoted after a failover).
 * Writes are refused without being sent to it.
 */
export class DbPrimaryReadOnlyError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_PRIMARY_READ_ONLY'
}

/**
 * No replica can serve a read and falling back to the primary is turned off (`fallback.toPrimary:
 * false`) or its budget (`fallback.maxPerSecond`) is spent.
 */
export class DbNoReplicaError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_NO_REPLICA'
}

/**
 * A statement did not get a connection within `timeouts.connect`, or its answer within its query
 * timeout (`timeouts.query` unless the call set `query_timeout`). The connection it held is closed,
 * so the server stops working for it. A read that timed out is retried on another node.
 */
export class DbTimeoutError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_TIMEOUT'
}

/** A statement the router classifies as a write was sent with `{ role: 'replica' }`; nothing was sent. */
export class DbWriteOnReplicaError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_WRITE_ON_REPLICA'
}

/** A consistency token is malformed, or its signature does not verify with the configured secret. */
export class DbInvalidTokenError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_INVALID_TOKEN'
}

// Sharding (`@scalekit/db-router/shards`): in the one map, so an app switches on every code in one place.

/**
 * A statement sent to `db.query()` of a sharded router names no shard it can be routed by: no
 * `shardKey` option and no equality on the shard column the parser can read (no key, an `OR`, a
 * join or subquery that may reach other shards, a key that is not a constant or parameter). Nothing
 * was sent: pass `{ shardKey }`, use `db.shard(key)`, or `db.queryAllShards()` for every shard.
 * `reason` says which case it was.
 */
export class DbShardKeyRequiredError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_SHARD_KEY_REQUIRED'
  /** Why no key could be read: `no-key`, `or`, `join-without-key`, `subquery`, `cte`, `multi-statement`, `insert-select`, `insert-without-columns`, `updates-shard-key`, `key-not-constant`, `conflicting-keys`, `unparseable`. */
  readonly reason: string

  constructor(message: string, options?: { cause?: unknown; reason?: string }) {
    super(message, options)
    this.reason = options?.reason ?? 'no-key'
  }
}

/** A key the shard map has no shard for (outside every range, in no list and no default). */
export class DbNoShardError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_NO_SHARD'
}

/**
 * A statement or transaction would span shards or databases: an `IN` list or a multi-row `INSERT`
 * whose keys live on different shards, a statement in `transaction(key, …)` whose key belongs to
 * another shard, or (vertical partitioning) tables placed in different databases, named in `tables`.
 */
export class DbCrossShardError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_CROSS_SHARD'
  /** The tables involved when the statement spans databases (vertical partitioning); empty otherwise. */
  readonly tables: readonly string[]

  constructor(message: string, options?: { cause?: unknown; tables?: readonly string[] }) {
    super(message, options)
    this.tables = options?.tables ?? []
  }
}

/**
 * `queryAllShards()` cannot merge this statement's results exactly (an `OFFSET`, `DISTINCT`, `HAVING`,
 * `avg()`, a set operation, an `ORDER BY` on an expression or on a column not in the output): pass a
 * `merge` of your own or rewrite the statement. Nothing was sent.
 */
export class DbMergeUnsupportedError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_MERGE_UNSUPPORTED'
}

/** One shard's failure in a cross-shard query. */
export interface ShardFailure {
  /** The shard's name in the map. */
  readonly shard: string
  /** What it failed with: its router's coded error, or pg's `DatabaseError` for an SQL error. */
  readonly error: Error
}

/**
 * A cross-shard query under `onError: 'fail'` (the default): at least one shard failed, so no rows
 * are returned. `failures` lists each failed shard with its error; `cause` is the first one's. Its
 * HTTP status is 503 when every shard failed in a way that passes (unreachable, timed out, closed),
 * 500 when one failed for a reason a retry does not fix (an SQL error).
 */
export class DbShardsFailedError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_SHARDS_FAILED'
  /** Each failed shard with its error, in the order the shards answered. */
  readonly failures: readonly ShardFailure[]

  constructor(message: string, options?: { cause?: unknown; failures?: readonly ShardFailure[] }) {
    super(message, { cause: options?.cause ?? options?.failures?.[0]?.error })
    this.failures = options?.failures ?? []
  }
}

/** A bucket move could not proceed (another move of the bucket is under way to another shard, a table is missing, a step failed); `cause` holds the driver's error. Rerun it: every step is idempotent. */
export class DbBucketMoveError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_BUCKET_MOVE'
}

/**
 * A write to a bucket that is being moved did not get through within `map.fenceWait`: the move
 * holds the bucket's fence (copying its rows) or was interrupted between its steps. Retry later;
 * rerun the move if it was interrupted. HTTP: 503 with `Retry-After: 1` (in `headers`).
 */
export class DbBucketMovingError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_BUCKET_MOVING'
}

/**
 * Every error class of @scalekit/db-router, keyed by its code (the base first), sharding's
 * included (its classes are exported by `@scalekit/db-router/shards`).
 */
export const errors: {
  readonly ERR_DB: typeof DbRouterError
  readonly ERR_DB_INVALID_OPTIONS: typeof DbRouterOptionsError
  readonly ERR_DB_INVALID_ARGUMENT: typeof DbRouterArgumentError
  readonly ERR_DB_CLOSED: typeof DbRouterClosedError
  readonly ERR_DB_PRIMARY_UNAVAILABLE: typeof DbPrimaryUnavailableError
  readonly ERR_DB_PRIMARY_READ_ONLY: typeof DbPrimaryReadOnlyError
  readonly ERR_DB_NO_REPLICA: typeof DbNoReplicaError
  readonly ERR_DB_TIMEOUT: typeof DbTimeoutError
  readonly ERR_DB_WRITE_ON_REPLICA: typeof DbWriteOnReplicaError
  readonly ERR_DB_INVALID_TOKEN: typeof DbInvalidTokenError
  readonly ERR_DB_SHARD_KEY_REQUIRED: typeof DbShardKeyRequiredError
  readonly ERR_DB_NO_SHARD: typeof DbNoShardError
  readonly ERR_DB_CROSS_SHARD: typeof DbCrossShardError
  readonly ERR_DB_MERGE_UNSUPPORTED: typeof DbMergeUnsupportedError
  readonly ERR_DB_SHARDS_FAILED: typeof DbShardsFailedError
  readonly ERR_DB_BUCKET_MOVE: typeof DbBucketMoveError
  readonly ERR_DB_BUCKET_MOVING: typeof DbBucketMovingError
} = defineErrors({
  ERR_DB: DbRouterError,
  ERR_DB_INVALID_OPTIONS: DbRouterOptionsError,
  ERR_DB_INVALID_ARGUMENT: DbRouterArgumentError,
  ERR_DB_CLOSED: DbRouterClosedError,
  ERR_DB_PRIMARY_UNAVAILABLE: DbPrimaryUnavailableError,
  ERR_DB_PRIMARY_READ_ONLY: DbPrimaryReadOnlyError,
  ERR_DB_NO_REPLICA: DbNoReplicaError,
  ERR_DB_TIMEOUT: DbTimeoutError,
  ERR_DB_WRITE_ON_REPLICA: DbWriteOnReplicaError,
  ERR_DB_INVALID_TOKEN: DbInvalidTokenError,
  ERR_DB_SHARD_KEY_REQUIRED: DbShardKeyRequiredError,
  ERR_DB_NO_SHARD: DbNoShardError,
  ERR_DB_CROSS_SHARD: DbCrossShardError,
  ERR_DB_MERGE_UNSUPPORTED: DbMergeUnsupportedError,
  ERR_DB_SHARDS_FAILED: DbShardsFailedError,
  ERR_DB_BUCKET_MOVE: DbBucketMoveError,
  ERR_DB_BUCKET_MOVING: DbBucketMovingError,
})

/** A code of @scalekit/db-router: a key of {@link errors}. */
export type DbRouterErrorCode = keyof typeof errors
