/**
 * The base class of every error @scalekit/queue throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class QueueError extends Error {
  /** The stable code of this class of error. */
  static readonly code: string = 'ERR_QUEUE'
  /** The stable code of this error: `ERR_QUEUE_<WHAT>`. */
  readonly code: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = new.target.code
  }
}

/** Options given to a factory are invalid; thrown at construction, never later. */
export class QueueOptionsError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_INVALID_OPTIONS'
}

/** Every error class of @scalekit/queue, by name. */
export const errors: {
  readonly QueueError: typeof QueueError
  readonly QueueOptionsError: typeof QueueOptionsError
} = { QueueError, QueueOptionsError }
