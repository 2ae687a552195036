import { CodedError, defineErrors } from '@scalekit/internal'

/**
 * The base class of every error @scalekit/session throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class SessionError extends CodedError {
  static override readonly code: string = 'ERR_SESSION'
}

/** Options given to a factory are invalid; thrown at construction, before any remote call. */
export class SessionOptionsError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_INVALID_OPTIONS'
}

/** A call got an argument it does not accept; thrown before any remote call. */
export class SessionArgumentError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_INVALID_ARGUMENT'
}

/** The object was closed: `close()` was called before (or while) this call ran. */
export class SessionClosedError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_CLOSED'
}

/**
 * Why a token was refused, stable like the codes: each names one check of
 * {@link TokenVerifier.verify}, so a log or a metric can tell an attack from a clock problem.
 */
export type TokenReason =
  | 'missing'
  | 'too-large'
  | 'malformed'
  | 'algorithm'
  | 'header'
  | 'crit'
  | 'unknown-key'
  | 'signature'
  | 'type'
  | 'expired'
  | 'not-yet-valid'
  | 'issuer'
  | 'audience'
  | 'claims'

/** Options of the errors that carry a reason. */
export interface ReasonOptions<R extends string> {
  readonly cause?: unknown
  /** Why; see the error class. */
  readonly reason?: R
}

/**
 * A token failed verification (401): `reason` names the check it failed. Never carries the token.
 */
export class SessionTokenError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_INVALID_TOKEN'
  readonly reason: TokenReason

  constructor(message: string, options?: ReasonOptions<TokenReason>) {
    super(message, options)
    this.reason = options?.reason ?? 'malformed'
  }
}

/** Why a valid token or session no longer counts. */
export type RevokedReason = 'token' | 'family' | 'user' | 'reuse'

/**
 * The token was revoked (401): by its id (`token`), with its refresh family (`family`), by "log out
 * everywhere" (`user`), or because its family saw a retired refresh token presented again (`reuse`).
 */
export class SessionRevokedError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_REVOKED'
  readonly reason: RevokedReason

  constructor(message: string, options?: ReasonOptions<RevokedReason>) {
    super(message, options)
    this.reason = options?.reason ?? 'token'
  }
}

/** No credentials (no bearer token, no session cookie, no API key) where the route needs them (401). */
export class SessionUnauthenticatedError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_UNAUTHENTICATED'
}

/** Why an authenticated caller was refused. */
export type ForbiddenReason = 'role' | 'scope'

/** Authenticated, but without a role or scope the route needs (403). */
export class SessionForbiddenError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_FORBIDDEN'
  readonly reason: ForbiddenReason

  constructor(message: string, options?: ReasonOptions<ForbiddenReason>) {
    super(message, options)
    this.reason = options?.reason ?? 'role'
  }
}

/** A cookie-authenticated unsafe request came from another site (Origin / Sec-Fetch-Site): CSRF, 403. */
export class SessionCrossSiteError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_CROSS_SITE'
}

/** Why an API key was refused. */
export type ApiKeyReason = 'malformed' | 'unknown' | 'secret' | 'expired' | 'revoked'

/** An API key was refused (401): `reason` says which check failed. Never carries the key. */
export class SessionApiKeyError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_INVALID_API_KEY'
  readonly reason: ApiKeyReason

  constructor(message: string, options?: ReasonOptions<ApiKeyReason>) {
    super(message, options)
    this.reason = options?.reason ?? 'malformed'
  }
}

/**
 * The store (Redis) did not answer in time or failed (503): server sessions fail closed on it; the
 * driver's error is the `cause`.
 */
export class SessionStoreError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_STORE_UNAVAILABLE'
}

/**
 * The keys a token must be checked with could not be had (503): a remote JWKS endpoint failed, timed
 * out or answered something that is not a key set. The token may be fine: the caller should retry
 * after `retryAfter` seconds. The fetch error is the `cause`.
 */
export class SessionKeysUnavailableError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_KEYS_UNAVAILABLE'
  /** Seconds after which a retry may succeed (the `Retry-After` the adapters send). */
  readonly retryAfter: number

  constructor(message: string, options: { readonly cause?: unknown; readonly retryAfter: number }) {
    super(message, { cause: options.cause })
    this.retryAfter = options.retryAfter
  }
}

/** Every error class of @scalekit/session, keyed by its code. */
export const errors: {
  readonly ERR_SESSION: typeof SessionError
  readonly ERR_SESSION_INVALID_OPTIONS: typeof SessionOptionsError
  readonly ERR_SESSION_INVALID_ARGUMENT: typeof SessionArgumentError
  readonly ERR_SESSION_CLOSED: typeof SessionClosedError
  readonly ERR_SESSION_INVALID_TOKEN: typeof SessionTokenError
  readonly ERR_SESSION_REVOKED: typeof SessionRevokedError
  readonly ERR_SESSION_UNAUTHENTICATED: typeof SessionUnauthenticatedError
  readonly ERR_SESSION_FORBIDDEN: typeof SessionForbiddenError
  readonly ERR_SESSION_CROSS_SITE: typeof SessionCrossSiteError
  readonly ERR_SESSION_INVALID_API_KEY: typeof SessionApiKeyError
  readonly ERR_SESSION_STORE_UNAVAILABLE: typeof SessionStoreError
  readonly ERR_SESSION_KEYS_UNAVAILABLE: typeof SessionKeysUnavailableError
} = defineErrors({
  ERR_SESSION: SessionError,
  ERR_SESSION_INVALID_OPTIONS: SessionOptionsError,
  ERR_SESSION_INVALID_ARGUMENT: SessionArgumentError,
  ERR_SESSION_CLOSED: SessionClosedError,
  ERR_SESSION_INVALID_TOKEN: SessionTokenError,
  ERR_SESSION_REVOKED: SessionRevokedError,
  ERR_SESSION_UNAUTHENTICATED: SessionUnauthenticatedError,
  ERR_SESSION_FORBIDDEN: SessionForbiddenError,
  ERR_SESSION_CROSS_SITE: SessionCrossSiteError,
  ERR_SESSION_INVALID_API_KEY: SessionApiKeyError,
  ERR_SESSION_STORE_UNAVAILABLE: SessionStoreError,
  ERR_SESSION_KEYS_UNAVAILABLE: SessionKeysUnavailableError,
})
