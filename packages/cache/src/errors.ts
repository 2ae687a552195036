/**
 * The base class of every error @scalekit/cache throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class CacheError extends Error {
  /** The stable code of this class of error. */
  static readonly code: string = 'ERR_CACHE'
  /** The stable code of this error: `ERR_CACHE_<WHAT>`. */
  readonly code: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = new.target.code
  }
}

/** Options given to `createCache` (or a call) are invalid; thrown at construction, never later. */
export class CacheOptionsError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_INVALID_OPTIONS'
}

/** The encoded value is larger than `maxValueBytes`; nothing was written. */
export class CacheValueTooLargeError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_VALUE_TOO_LARGE'
}

/** The codec cannot encode the value (a function, a symbol, a cycle…); nothing was written. */
export class CacheEncodeError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_ENCODE'
}

/**
 * A stored entry cannot be decoded or decrypted. Never thrown from reads (an undecodable entry is
 * a miss plus a `scalekit:cache:error` event); thrown only by the codec functions themselves.
 */
export class CacheDecodeError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_DECODE'
}

/** The factory did not settle within `hardTimeout` and no stale value could be served. */
export class CacheFactoryTimeoutError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_FACTORY_TIMEOUT'
}

/** Redis (L2) did not answer within its timeout, or its circuit breaker is open. */
export class CacheUnavailableError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_L2_UNAVAILABLE'
}

/** The cache (or write-behind queue) was closed; no new work is taken. */
export class CacheClosedError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_CLOSED'
}

/** Every error class of @scalekit/cache, by name. */
export const errors: {
  readonly CacheError: typeof CacheError
  readonly CacheOptionsError: typeof CacheOptionsError
  readonly CacheValueTooLargeError: typeof CacheValueTooLargeError
  readonly CacheEncodeError: typeof CacheEncodeError
  readonly CacheDecodeError: typeof CacheDecodeError
  readonly CacheFactoryTimeoutError: typeof CacheFactoryTimeoutError
  readonly CacheUnavailableError: typeof CacheUnavailableError
  readonly CacheClosedError: typeof CacheClosedError
} = {
  CacheError,
  CacheOptionsError,
  CacheValueTooLargeError,
  CacheEncodeError,
  CacheDecodeError,
  CacheFactoryTimeoutError,
  CacheUnavailableError,
  CacheClosedError,
}
