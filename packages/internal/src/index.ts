// The shared source of every scalekit package. Never published: tsup bundles what a package
// imports from here into that package (tooling/tsup-preset.ts), and scripts/check-shared.ts fails
// CI when a package writes one of these again.
export { type Backoff, backoffDelay } from './backoff'
export { BreakerOpenError, type BreakerSettings, type BreakerState, CircuitBreaker } from './breaker'
export { channelName, channelPrefix } from './channels'
export { type Deadline, DeadlineSweep } from './deadlines'
export { describeValue } from './describe'
export { type Duration, type DurationUnit, MAX_DURATION_MS, parseDuration } from './duration'
export { CodedError, defineErrors, type ErrorClass, type ErrorMap } from './errors'
export {
  CLOSE_TIMEOUT_MS,
  CloseGate,
  type Closeable,
  type CloseOptions,
  closeTimeout,
  type HealthSnapshot,
  type HealthStatus,
} from './lifecycle'
export { createWarner, type Logger, type Warner } from './logger'
export { onlyKnownOptions } from './option-names'
export { isPromiseLike } from './promise-like'
export {
  checkRedisInput,
  isRedisCluster,
  type RedisBatch,
  type RedisClient,
  type RedisClusterClient,
  type RedisCommands,
  type RedisListener,
} from './redis-client'
export { RedisScript, type ScriptRunner } from './redis-script'
export { sleep, withTimeout } from './timers'
export { type BackoffInput, type Checks, createChecks, type NumberBounds } from './validators'
