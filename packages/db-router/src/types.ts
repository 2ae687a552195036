import type { Closeable, CloseOptions, HealthSnapshot } from '@scalekit/internal'
import type { PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import type { NodeRole, NodeState } from './channels'

/** Per-call routing options: the third argument of `query(text, values, options)`, or the second after a config object. */
export interface QueryOptions {
  /**
   * `primary` sends the statement to the primary whatever it is. `replica` sends it to a replica
   * even if the classifier only guessed it writes (it did not parse, or calls a function that may
   * write); a provable write (INSERT, FOR UPDATE, nextval…) is refused with `ERR_DB_WRITE_ON_REPLICA`.
   */
  role?: 'primary' | 'replica'
}

/** pg's `query` signatures (promise form), plus routing options. */
export interface Queryable {
  /**
   * Runs one statement where the classifier (or `options.role`) sends it. Resolves with pg's
   * `QueryResult`; SQL errors reject with pg's `DatabaseError` (SQLSTATE in `code`), routing
   * failures with a coded `DbRouterError`. Transaction control (`BEGIN`, `COMMIT`, `SAVEPOINT`…, also
   * among several statements) is refused with `ERR_DB_INVALID_ARGUMENT` before anything is sent: use
   * `transaction()` or a `connect()` session.
   */
  query<R extends QueryResultRow = QueryResultRow>(
    textOrConfig: string | QueryConfig<unknown[]>,
    values?: readonly unknown[],
    options?: QueryOptions,
  ): Promise<QueryResult<R>>
  /** A config object followed by the routing options (no separate values). */
  query<R extends QueryResultRow = QueryResultRow>(
    config: QueryConfig<unknown[]>,
    options: QueryOptions,
  ): Promise<QueryResult<R>>
}

/**
 * The connections of one node's `pg.Pool`, read from its public fields when the snapshot is taken
 * (no I/O): how close the pool is to saturation. `waiting` above 0 means calls are queued for a
 * connection because all `max` are checked out. The router's own health checks use the same pool.
 */
export interface NodePoolHealth {
  /** Connections open or being opened (`pool.totalCount`). */
  readonly total: number
  /** Open connections not checked out (`pool.idleCount`). */
  readonly idle: number
  /** Checkouts queued for a connection (`pool.waitingCount`). */
  readonly waiting: number
  /** The most connections the pool opens (`pool.options.max`; pg's default is 10). */
  readonly max: number
}

/** What `health()` and the node handles report about one node. */
export interface NodeHealth {
  readonly name: string
  readonly role: NodeRole
  readonly state: NodeState
  /** True when reads may go there now (replicas), or writes (primary): state up and breaker not open. */
  readonly usable: boolean
  readonly breakerOpen: boolean
  /** Replay position last seen (replicas), `pg_lsn` text. */
  readonly replayLsn: string
  readonly lagBytes: number | undefined
  readonly lagSeconds: number
  readonly outstanding: number
  readonly ewmaMs: number
  readonly weight: number
  /** The node's pool: connections open, idle, checkouts waiting, and its size. */
  readonly pool: NodePoolHealth
}

/**
 * One node, addressed directly: `db.primary.query()` always runs on the primary (a write in a
 * consistency scope still advances it); `db.replicas[i].query()` runs on that replica only — no
 * balancing, no fallback, and a provable write is refused with `ERR_DB_WRITE_ON_REPLICA`.
 */
export interface NodeHandle extends Queryable {
  readonly name: string
  readonly role: NodeRole
  /** This node's part of {@link DbRouter.health}: a snapshot, no I/O. */
  health(): NodeHealth
}

/** The client of `transaction()`: pg's `query` on the transaction's primary session. */
export interface TransactionClient {
  /** pg's `query` on the transaction's session; no routing. */
  query<R extends QueryResultRow = QueryResultRow>(
    textOrConfig: string | QueryConfig<unknown[]>,
    values?: readonly unknown[],
  ): Promise<QueryResult<R>>
  /** The underlying pg session, for APIs that need one (cursors, COPY); do not release it. */
  readonly client: PoolClient
}

/** Options of `transaction()`. */
export interface TransactionOptions {
  /** @default the server's default (usually read committed) */
  isolation?: 'read committed' | 'repeatable read' | 'serializable'
  /** `BEGIN READ ONLY`. Still on the primary. @default false */
  readOnly?: boolean
}

/** The consistency scope a `withConsistency` callback runs in. */
export interface ConsistencyScope {
  /** The token of everything this scope has written or was given, undefined if nothing; same as `db.consistencyToken()` inside it. */
  token(): string | undefined
}

/**
 * Where the router and every node stand. `status`: `ok` — every node up, no breaker open;
 * `degraded` — serving, but a replica is out (down, lagging, promoted), a breaker is open, reads fall
 * back to the primary for want of a replica, or the primary is read-only (in recovery: writes are
 * refused); `down` — the primary is unreachable (its checks fail or its breaker is open); `closed` —
 * `close()` was called.
 */
export interface DbRouterHealth extends HealthSnapshot {
  readonly primary: NodeHealth
  readonly replicas: readonly NodeHealth[]
}

/** The router: a pg Pool-like client that splits reads and writes. */
export interface DbRouter extends Queryable, Closeable {
  /**
   * Resolves once the router can classify statements without delay: the SQL parser (libpg-query,
   * WebAssembly, about 120 ms to start) begins loading when the router is created, in the
   * background; await this during start-up so the first request does not wait for it. Connects to
   * nothing. Rejects if the parser cannot load.
   */
  ready(): Promise<void>
  /** Runs `fn` in a transaction on the primary: COMMIT when it resolves, ROLLBACK when it throws (and rethrows). */
  transaction<T>(fn: (tx: TransactionClient) => Promise<T>, options?: TransactionOptions): Promise<T>
  /**
   * Checks out a primary session (pg's `PoolClient`; `release()` it). In a consistency scope its
   * release captures the session's last commit position for the scope.
   */
  connect(): Promise<PoolClient>
  /** Runs `fn` in a new consistency scope: reads in it see the scope's writes. */
  withConsistency<T>(fn: (scope: ConsistencyScope) => T | Promise<T>): Promise<T>
  /** Same, starting from a token carried from elsewhere (a cookie, a header, a queue message); `undefined`/`null` = no token. Throws `ERR_DB_INVALID_TOKEN` on a bad one. */
  withConsistency<T>(
    token: string | null | undefined,
    fn: (scope: ConsistencyScope) => T | Promise<T>,
  ): Promise<T>
  /** The current scope's token (opaque, signed when `consistency.secret` is set); undefined outside a scope or before any write. */
  consistencyToken(): string | undefined
  /** Validates a token without using it: false if malformed or forged. */
  isValidToken(token: string): boolean
  /** The primary, addressed directly. */
  readonly primary: NodeHandle
  /** Each replica, addressed directly, in configuration order. */
  readonly replicas: readonly NodeHandle[]
  /** A snapshot of every node's state, from the last checks and query outcomes: synchronous, no I/O. */
  health(): DbRouterHealth
  /** Runs a health round on every node now and returns the snapshot after it (the background loop also runs every `health.interval`). */
  checkHealth(): Promise<DbRouterHealth>
  /**
   * Stops taking calls (new ones reject with `ERR_DB_CLOSED`) and the health checks, lets calls in
   * flight finish within `timeout` (default `'10s'`), rejects what is left with `ERR_DB_CLOSED`,
   * then ends the pools the router created — never a pool you passed in. Never rejects because of
   * the timeout; a second call returns the first call's promise.
   */
  close(options?: CloseOptions): Promise<void>
}
