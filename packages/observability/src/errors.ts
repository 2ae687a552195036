import { CodedError, defineErrors } from '@scalekit/internal'

/**
 * The base class of every error @scalekit/observability throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class ObservabilityError extends CodedError {
  static override readonly code: string = 'ERR_OBSERVABILITY'
}

/** Options given to a factory are invalid; thrown at construction, before any remote call. */
export class ObservabilityOptionsError extends ObservabilityError {
  static override readonly code: string = 'ERR_OBSERVABILITY_INVALID_OPTIONS'
}

/** A call got an argument it does not accept; thrown before any remote call. */
export class ObservabilityArgumentError extends ObservabilityError {
  static override readonly code: string = 'ERR_OBSERVABILITY_INVALID_ARGUMENT'
}

/**
 * A metric name is already registered on the registry with another kind or other label names (two
 * definitions disagree): re-registering the same definition returns the existing metric instead.
 */
export class ObservabilityMetricConflictError extends ObservabilityError {
  static override readonly code: string = 'ERR_OBSERVABILITY_METRIC_CONFLICT'
}

/** A health check did not answer within its timeout (the `cause` of a failed check in a report). */
export class ObservabilityCheckTimeoutError extends ObservabilityError {
  static override readonly code: string = 'ERR_OBSERVABILITY_CHECK_TIMEOUT'
}

/** Every error class of @scalekit/observability, keyed by its code. */
export const errors: {
  readonly ERR_OBSERVABILITY: typeof ObservabilityError
  readonly ERR_OBSERVABILITY_INVALID_OPTIONS: typeof ObservabilityOptionsError
  readonly ERR_OBSERVABILITY_INVALID_ARGUMENT: typeof ObservabilityArgumentError
  readonly ERR_OBSERVABILITY_METRIC_CONFLICT: typeof ObservabilityMetricConflictError
  readonly ERR_OBSERVABILITY_CHECK_TIMEOUT: typeof ObservabilityCheckTimeoutError
} = defineErrors({
  ERR_OBSERVABILITY: ObservabilityError,
  ERR_OBSERVABILITY_INVALID_OPTIONS: ObservabilityOptionsError,
  ERR_OBSERVABILITY_INVALID_ARGUMENT: ObservabilityArgumentError,
  ERR_OBSERVABILITY_METRIC_CONFLICT: ObservabilityMetricConflictError,
  ERR_OBSERVABILITY_CHECK_TIMEOUT: ObservabilityCheckTimeoutError,
})
