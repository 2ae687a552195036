import type { PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import type { NodeRole, NodeState } from './channels'
import type { QueryOptions } from './internal/query-args'

/** pg's `query` signatures (promise form), plus routing options. */
export interface Queryable {
  /**
   * Runs one statement where the classifier (or `options.role`) sends it. Resolves with pg's
   * `QueryResult`; SQL errors reject with pg's `DatabaseError` (SQLSTATE in `code`), routing
   * failures with a coded `DbRouterError`.
   */
  query<R extends QueryResultRow = QueryResultRow>(textOrConfig: string | QueryConfig<unknown[]>, values?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<R>>
  /** A config object followed by the routing options (no separate values). */
  query<R extends QueryResultRow = QueryResultRow>(config: QueryConfig<unknown[]>, options: QueryOptions): Promise<QueryResult<R>>
}

/** What `status()` and the node handles report about one node. */
export interface NodeStatus {
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
}

/**
 * One node, addressed directly: `db.primary.query()` always runs on the primary (a write in a
 * consistency scope still advances it); `db.replicas[i].query()` runs on that replica only — no
 * balancing, no fallback, and a provable write is refused with `ERR_DB_WRITE_ON_REPLICA`.
 */
export interface NodeHandle extends Queryable {
  readonly name: string
  readonly role: NodeRole
  status(): NodeStatus
}

/** The client of `transaction()`: pg's `query` on the transaction's primary session. */
export interface TransactionClient {
  /** pg's `query` on the transaction's session; no routing. */
  query<R extends QueryResultRow = QueryResultRow>(textOrConfig: string | QueryConfig<unknown[]>, values?: readonly unknown[]): Promise<QueryResult<R>>
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

/** Where every node stands. */
export interface RouterStatus {
  readonly primary: NodeStatus
  readonly replicas: readonly NodeStatus[]
}

/** The router: a pg Pool-like client that splits reads and writes. */
export interface DbRouter extends Queryable, AsyncDisposable {
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
  withConsistency<T>(token: string | null | undefined, fn: (scope: ConsistencyScope) => T | Promise<T>): Promise<T>
  /** The current scope's token (opaque, signed when `consistency.secret` is set); undefined outside a scope or before any write. */
  consistencyToken(): string | undefined
  /** Validates a token without using it: false if malformed or forged. */
  isValidToken(token: string): boolean
  /** The primary, addressed directly. */
  readonly primary: NodeHandle
  /** Each replica, addressed directly, in configuration order. */
  readonly replicas: readonly NodeHandle[]
  /** A snapshot of every node's state. */
  status(): RouterStatus
  /** Runs a health round now and waits for it (the background loop also runs every `health.interval`). */
  checkHealth(): Promise<RouterStatus>
  /** Stops health checks, waits up to `deadlineMs` for in-flight calls, ends the pools the router created (never yours). */
  close(deadlineMs?: number): Promise<void>
}
