export { createDbRouter } from './router'
export type {
  ConsistencyScope,
  DbRouter,
  DbRouterHealth,
  NodeHandle,
  NodeHealth,
  NodePoolHealth,
  Queryable,
  QueryOptions,
  TransactionClient,
  TransactionOptions,
} from './types'
export type { DbRouterOptions, NodeSource, ReplicaConfig, ReplicaInput, ReplicaRef } from './options'
export { defaults } from './options'
export type { CloseOptions, Duration, HealthStatus, Logger } from '@scalekit/internal'
export { BALANCE_POLICIES, type BalancePolicy } from './balancing'
export {
  DbInvalidTokenError,
  DbNoReplicaError,
  DbPrimaryReadOnlyError,
  DbPrimaryUnavailableError,
  DbRouterArgumentError,
  DbRouterClosedError,
  DbRouterError,
  DbRouterOptionsError,
  DbTimeoutError,
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
