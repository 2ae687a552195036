/**
 * The base class of every error @scalekit/db-router throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not). Errors raised by PostgreSQL itself
 * (a unique violation, a syntax error…) are passed through unchanged as `pg`'s `DatabaseError`, so
 * their `code` stays the SQLSTATE your code already checks.
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

/** A call got arguments the router does not accept (a callback, a pg `Submittable`, a non-string text). */
export class DbInvalidArgumentError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_INVALID_ARGUMENT'
}

/** The router was closed; no new query is taken. */
export class DbClosedError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_CLOSED'
}

/**
 * The primary could not be reached (connection error, timeout, or its circuit breaker is open).
 * Writes are never retried, so a write that fails this way may or may not have been applied only
 * if the error came after the statement was sent; `cause` holds the driver's error.
 */
export class DbPrimaryUnavailableError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_PRIMARY_UNAVAILABLE'
}

/**
 * The node configured as the primary is read-only (in recovery, e.g. demoted after a failover).
 * Writes are refused without being sent to it.
 */
export class DbPrimaryReadOnlyError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_PRIMARY_READ_ONLY'
}

/**
 * No replica can serve a read and falling back to the primary is turned off (`fallback.toPrimary:
 * false`) or its budget (`fallback.maxPerSecond`) is spent.
 */
export class DbNoReplicaError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_NO_REPLICA'
}

/**
 * A statement did not get a connection within `timeouts.connect`, or its answer within its query
 * timeout (`timeouts.query` unless the call set `query_timeout`). The connection it held is closed,
 * so the server stops working for it. A read that timed out is retried on another node.
 */
export class DbTimeoutError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_TIMEOUT'
}

/** A statement the router classifies as a write was sent with `{ role: 'replica' }`; nothing was sent. */
export class DbWriteOnReplicaError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_WRITE_ON_REPLICA'
}

/** A consistency token is malformed, or its signature does not verify with the configured secret. */
export class DbInvalidTokenError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_INVALID_TOKEN'
}

/** Every error class of @scalekit/db-router, by name. */
export const errors: {
  readonly DbRouterError: typeof DbRouterError
  readonly DbRouterOptionsError: typeof DbRouterOptionsError
  readonly DbInvalidArgumentError: typeof DbInvalidArgumentError
  readonly DbClosedError: typeof DbClosedError
  readonly DbPrimaryUnavailableError: typeof DbPrimaryUnavailableError
  readonly DbPrimaryReadOnlyError: typeof DbPrimaryReadOnlyError
  readonly DbNoReplicaError: typeof DbNoReplicaError
  readonly DbTimeoutError: typeof DbTimeoutError
  readonly DbWriteOnReplicaError: typeof DbWriteOnReplicaError
  readonly DbInvalidTokenError: typeof DbInvalidTokenError
} = {
  DbRouterError,
  DbRouterOptionsError,
  DbInvalidArgumentError,
  DbClosedError,
  DbPrimaryUnavailableError,
  DbPrimaryReadOnlyError,
  DbNoReplicaError,
  DbTimeoutError,
  DbWriteOnReplicaError,
  DbInvalidTokenError,
}
