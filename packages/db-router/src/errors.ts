/**
 * The base class of every error @scalekit/db-router throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class DbRouterError extends Error {
  /** The stable code of this class of error. */
  static readonly code: string = 'ERR_DB'
  /** The stable code of this error: `ERR_DB_<WHAT>`. */
  readonly code: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = new.target.code
  }
}

/** Options given to a factory are invalid; thrown at construction, never later. */
export class DbRouterOptionsError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_INVALID_OPTIONS'
}

/** Every error class of @scalekit/db-router, by name. */
export const errors: {
  readonly DbRouterError: typeof DbRouterError
  readonly DbRouterOptionsError: typeof DbRouterOptionsError
} = { DbRouterError, DbRouterOptionsError }
