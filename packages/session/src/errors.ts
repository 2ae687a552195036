/**
 * The base class of every error @scalekit/session throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class SessionError extends Error {
  /** The stable code of this class of error. */
  static readonly code: string = 'ERR_SESSION'
  /** The stable code of this error: `ERR_SESSION_<WHAT>`. */
  readonly code: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = new.target.code
  }
}

/** Options given to a factory are invalid; thrown at construction, never later. */
export class SessionOptionsError extends SessionError {
  static override readonly code: string = 'ERR_SESSION_INVALID_OPTIONS'
}

/** Every error class of @scalekit/session, by name. */
export const errors: {
  readonly SessionError: typeof SessionError
  readonly SessionOptionsError: typeof SessionOptionsError
} = { SessionError, SessionOptionsError }
