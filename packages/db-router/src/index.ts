export { createDbRouter } from './router'
export type {
  ConsistencyScope,
  DbRouter,
  NodeHandle,
  NodeStatus,
  Queryable,
  RouterStatus,
  TransactionClient,
  TransactionOptions,
} from './types'
export type { DbRouterOptions, NodeSource, ReplicaConfig, ReplicaInput, ReplicaRef } from './options'
export { defaults } from './options'
export type { QueryOptions } from './internal/query-args'
export type { Duration } from './internal/duration'
export { BALANCE_POLICIES, type BalancePolicy } from './balancing'
export {
  DbClosedError,
  DbInvalidArgumentError,
  DbInvalidTokenError,
  DbNoReplicaError,
  DbTimeoutError,
  DbPrimaryReadOnlyError,
  DbPrimaryUnavailableError,
  DbRouterError,
  DbRouterOptionsError,
  DbWriteOnReplicaError,
  errors,
} from './errors'
export { httpStatusOf } from './http-status'
export {
  CHANNEL_PREFIX,
  channels,
  type BreakerStateEvent,
  type DbFallbackEvent,
  type DbLagEvent,
  type DbNodeStateEvent,
  type DbQueryContext,
  type NodeRole,
  type NodeState,
  type RouteReason,
} from './channels'
