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

/** Every error class of @scalekit/session, keyed by its code. */
export const errors: {
  readonly ERR_SESSION: typeof SessionError
  readonly ERR_SESSION_INVALID_OPTIONS: typeof SessionOptionsError
  readonly ERR_SESSION_INVALID_ARGUMENT: typeof SessionArgumentError
} = defineErrors({
  ERR_SESSION: SessionError,
  ERR_SESSION_INVALID_OPTIONS: SessionOptionsError,
  ERR_SESSION_INVALID_ARGUMENT: SessionArgumentError,
})
