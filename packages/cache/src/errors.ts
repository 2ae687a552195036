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

/** Options given to a factory are invalid; thrown at construction, never later. */
export class CacheOptionsError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_INVALID_OPTIONS'
}

/** Every error class of @scalekit/cache, by name. */
export const errors: {
  readonly CacheError: typeof CacheError
  readonly CacheOptionsError: typeof CacheOptionsError
} = { CacheError, CacheOptionsError }
