/**
 * The base class of every error @scalekit/observability throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class ObservabilityError extends Error {
  /** The stable code of this class of error. */
  static readonly code: string = 'ERR_OBSERVABILITY'
  /** The stable code of this error: `ERR_OBSERVABILITY_<WHAT>`. */
  readonly code: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = new.target.code
  }
}

/** Options given to a factory are invalid; thrown at construction, never later. */
export class ObservabilityOptionsError extends ObservabilityError {
  static override readonly code: string = 'ERR_OBSERVABILITY_INVALID_OPTIONS'
}

/** Every error class of @scalekit/observability, by name. */
export const errors: {
  readonly ObservabilityError: typeof ObservabilityError
  readonly ObservabilityOptionsError: typeof ObservabilityOptionsError
} = { ObservabilityError, ObservabilityOptionsError }
