import { channel, tracingChannel } from 'node:diagnostics_channel'
import type { Channel, TracingChannel } from 'node:diagnostics_channel'
import { channelName, channelPrefix } from '@scalekit/internal'

/**
 * Diagnostics channels of @scalekit/db-router, all named `scalekit:db-router:<operation>`. Names and
 * payloads are public API. Payloads never carry statement text or parameters (they often hold user
 * data); they carry where a statement went and why. Publishing costs nothing while nobody subscribes.
 */
export const CHANNEL_PREFIX: 'scalekit:db-router' = channelPrefix('db-router')

/** A node's role. */
export type NodeRole = 'primary' | 'replica'

/**
 * Why a statement went where it did:
 * - `read`: classified as a read, sent to a replica picked by the balancing policy;
 * - `write`: classified as a write (or not provably a read), sent to the primary;
 * - `override`: the call said `{ role }`;
 * - `transaction` / `session`: `transaction()` and `connect()` always use the primary;
 * - `no-replica`: a read, but no replica was usable (fallback to the primary);
 * - `consistency`: a read in a consistency scope that no replica had replayed within `maxWait`;
 * - `lag`: a read in a consistency scope sent to the primary at once, because no replica is
 *   expected to replay the scope's writes within `maxWait` by its measured replay lag;
 * - `read-only-retry`: a replica answered 25006 (the statement writes), retried on the primary;
 * - `retry`: a connection error or recovery conflict on a replica, retried on another node.
 */
export type RouteReason =
  | 'read'
  | 'write'
  | 'override'
  | 'transaction'
  | 'session'
  | 'no-replica'
  | 'consistency'
  | 'lag'
  | 'read-only-retry'
  | 'retry'

/** Context of `scalekit:db-router:query` (tracing channel): one attempt of one statement on one node. */
export interface DbQueryContext {
  /** `query` for `db.query()` and node handles, `transaction` for a whole `transaction()`. */
  operation: 'query' | 'transaction'
  role: NodeRole
  /** The node's name (`primary`, `replica-0`, or the configured name). */
  node: string
  reason: RouteReason
  /** Why the classifier decided as it did (e.g. `select`, `locking-clause`, `writable-cte`, `function:nextval`, `unparseable`). */
  classification: string
  /** 1 for the first attempt. */
  attempt: number
  /** ms the read waited for a replica to replay the scope's writes, when it waited. */
  consistencyWaitMs?: number
  /** Set when the attempt ends: its duration in ms. */
  durationMs?: number
  /** Set when the attempt fails: SQLSTATE or `ERR_DB_*` / Node error code. */
  errorCode?: string
}

/**
 * A replica's (or the primary's) routing state. `is-primary`: a replica that is the primary's own
 * server (the same server under another spelling of its address, `localhost` for `127.0.0.1`) — a
 * configuration mistake, excluded and reported.
 */
export type NodeState = 'up' | 'lagging' | 'down' | 'promoted' | 'read-only' | 'is-primary'

/** Payload of `scalekit:db-router:node-state`: a node changed state. */
export interface DbNodeStateEvent {
  node: string
  role: NodeRole
  from: NodeState
  to: NodeState
  /** `check-failed`, `never-answered`, `lag`, `caught-up`, `recovered`, `in-recovery`, `not-in-recovery`, `same-server-as-primary`, `connection-error`, `breaker-open`, `breaker-closed`. */
  reason: string
}

/** Payload of `scalekit:db-router:lag`: one health check of one replica. */
export interface DbLagEvent {
  node: string
  /** WAL bytes the replica has not replayed, vs the primary's position at the check; undefined if the primary did not answer. */
  lagBytes: number | undefined
  /** Seconds behind, 0 when it has replayed everything the primary wrote. */
  lagSeconds: number
  /** `pg_last_wal_replay_lsn()` as text. */
  replayLsn: string
}

/** Payload of `scalekit:db-router:fallback`: a read went to the primary instead of a replica, or failed for want of one. */
export interface DbFallbackEvent {
  /** `lag`: no replica expected to replay a scope's writes within `maxWait` (see {@link RouteReason}). */
  reason: 'no-replica' | 'consistency' | 'lag' | 'read-only-retry'
  /**
   * `primary` when it went there, `error` when the budget (`fallback.maxPerSecond`) or `toPrimary:
   * false` refused it — for every reason but `read-only-retry` (a write, which only the primary runs).
   */
  outcome: 'primary' | 'error'
}

/** Payload of `scalekit:breaker:state` (shared with the other scalekit packages). */
export interface BreakerStateEvent {
  package: 'db-router'
  /** The node's name. */
  namespace: string
  state: 'open' | 'half-open' | 'closed'
}

/** The channels of this package, created once per process. */
export const channels: {
  readonly query: TracingChannel<unknown, DbQueryContext>
  readonly nodeState: Channel
  readonly lag: Channel
  readonly fallback: Channel
  readonly breaker: Channel
} = {
  query: tracingChannel<unknown, DbQueryContext>(channelName('db-router', 'query')),
  nodeState: channel(channelName('db-router', 'node-state')),
  lag: channel(channelName('db-router', 'lag')),
  fallback: channel(channelName('db-router', 'fallback')),
  breaker: channel(channelName('breaker', 'state')),
}
