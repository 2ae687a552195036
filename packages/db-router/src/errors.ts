import { CodedError, defineErrors } from '@scalekit/internal'
import { httpStatusOf } from './http-status'

/**
 * The base class of every error @scalekit/db-router throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not). Errors raised by PostgreSQL itself
 * (a unique violation, a syntax error…) are passed through unchanged as `pg`'s `DatabaseError`, so
 * their `code` stays the SQLSTATE your code already checks.
 */
export class DbRouterError extends CodedError {
  static override readonly code: string = 'ERR_DB'

  /**
   * The HTTP status of this error ({@link httpStatusOf}): Express's and Fastify's default error
   * handlers read `statusCode`, so a router that is closed or has no node to serve answers 503
   * (retry later), not 500, without an error handler of the app's.
   */
  get statusCode(): number {
    return httpStatusOf(this.code)
  }
}

/** Options given to a factory are invalid; thrown at construction, never later. */
export class DbRouterOptionsError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_INVALID_OPTIONS'
}

/**
 * A call got an argument the router does not accept (a callback, a pg `Submittable`, a non-string
 * text, a bad `role`, token or `close()` timeout); thrown before anything is sent, never counted by
 * a breaker.
 */
export class DbRouterArgumentError extends DbRouterError {
  static override readonly code: string = 'ERR_DB_INVALID_ARGUMENT'
}

/** The router was closed: a new call, or one still in flight when `close()`'s timeout ran out. */
export class DbRouterClosedError extends DbRouterError {
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

/** Every error class of @scalekit/db-router, keyed by its code (the base first). */
export const errors: {
  readonly ERR_DB: typeof DbRouterError
  readonly ERR_DB_INVALID_OPTIONS: typeof DbRouterOptionsError
  readonly ERR_DB_INVALID_ARGUMENT: typeof DbRouterArgumentError
  readonly ERR_DB_CLOSED: typeof DbRouterClosedError
  readonly ERR_DB_PRIMARY_UNAVAILABLE: typeof DbPrimaryUnavailableError
  readonly ERR_DB_PRIMARY_READ_ONLY: typeof DbPrimaryReadOnlyError
  readonly ERR_DB_NO_REPLICA: typeof DbNoReplicaError
  readonly ERR_DB_TIMEOUT: typeof DbTimeoutError
  readonly ERR_DB_WRITE_ON_REPLICA: typeof DbWriteOnReplicaError
  readonly ERR_DB_INVALID_TOKEN: typeof DbInvalidTokenError
} = defineErrors({
  ERR_DB: DbRouterError,
  ERR_DB_INVALID_OPTIONS: DbRouterOptionsError,
  ERR_DB_INVALID_ARGUMENT: DbRouterArgumentError,
  ERR_DB_CLOSED: DbRouterClosedError,
  ERR_DB_PRIMARY_UNAVAILABLE: DbPrimaryUnavailableError,
  ERR_DB_PRIMARY_READ_ONLY: DbPrimaryReadOnlyError,
  ERR_DB_NO_REPLICA: DbNoReplicaError,
  ERR_DB_TIMEOUT: DbTimeoutError,
  ERR_DB_WRITE_ON_REPLICA: DbWriteOnReplicaError,
  ERR_DB_INVALID_TOKEN: DbInvalidTokenError,
})
