import { defineErrors } from '@scalekit/internal'
import { DbRouterError } from '../errors'

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
  readonly shard: string
  readonly error: Error
}

/**
 * A cross-shard query under `onError: 'fail'` (the default): at least one shard failed, so no rows
 * are returned. `failures` lists each failed shard with its error; `cause` is the first one's.
 */
export class DbShardsFailedError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_SHARDS_FAILED'
  readonly failures: readonly ShardFailure[]

  constructor(message: string, options?: { cause?: unknown; failures?: readonly ShardFailure[] }) {
    super(message, { cause: options?.cause ?? options?.failures?.[0]?.error })
    this.failures = options?.failures ?? []
  }

  /** 503: some shards cannot answer now. */
  override get statusCode(): number {
    return 503
  }
}

/** A bucket move could not proceed (another move of the bucket is under way to another shard, a table is missing, a step failed); `cause` holds the driver's error. Rerun it: every step is idempotent. */
export class DbBucketMoveError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_BUCKET_MOVE'
}

/**
 * A write to a bucket that is being moved did not get through within `map.fenceWait`: the move
 * holds the bucket's fence (copying its rows) or was interrupted between its steps. Retry later;
 * rerun the move if it was interrupted.
 */
export class DbBucketMovingError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_BUCKET_MOVING'

  /** 503: retry later, the bucket is being moved. */
  override get statusCode(): number {
    return 503
  }
}

/** The errors of sharding, keyed by code (the package's base first); the rest are in `errors`. */
export const shardErrors: {
  readonly ERR_DB: typeof DbRouterError
  readonly ERR_DB_SHARD_KEY_REQUIRED: typeof DbShardKeyRequiredError
  readonly ERR_DB_NO_SHARD: typeof DbNoShardError
  readonly ERR_DB_CROSS_SHARD: typeof DbCrossShardError
  readonly ERR_DB_MERGE_UNSUPPORTED: typeof DbMergeUnsupportedError
  readonly ERR_DB_SHARDS_FAILED: typeof DbShardsFailedError
  readonly ERR_DB_BUCKET_MOVE: typeof DbBucketMoveError
  readonly ERR_DB_BUCKET_MOVING: typeof DbBucketMovingError
} = defineErrors({
  ERR_DB: DbRouterError,
  ERR_DB_SHARD_KEY_REQUIRED: DbShardKeyRequiredError,
  ERR_DB_NO_SHARD: DbNoShardError,
  ERR_DB_CROSS_SHARD: DbCrossShardError,
  ERR_DB_MERGE_UNSUPPORTED: DbMergeUnsupportedError,
  ERR_DB_SHARDS_FAILED: DbShardsFailedError,
  ERR_DB_BUCKET_MOVE: DbBucketMoveError,
  ERR_DB_BUCKET_MOVING: DbBucketMovingError,
})
