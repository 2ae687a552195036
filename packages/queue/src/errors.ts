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

/** Options given to a factory or a call are invalid; thrown at construction (or the call), never later. */
export class QueueOptionsError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_INVALID_OPTIONS'
}

/** A payload failed its message type's schema on `publish`; nothing was sent. */
export class QueueValidationError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_INVALID_PAYLOAD'
  /** The schema's issues, as Standard Schema reports them. */
  readonly issues: readonly { readonly message: string }[]

  constructor(message: string, issues: readonly { readonly message: string }[], options?: { cause?: unknown }) {
    super(message, options)
    this.issues = issues
  }
}

/** The broker routed the message nowhere (no consumer group declared a queue for its type yet). */
export class QueueUnroutableError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_UNROUTABLE'
}

/** The broker refused the message (a negative publisher confirm); it was not stored. */
export class QueueNackError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_PUBLISH_NACKED'
}

/**
 * The publish was not confirmed within `publishTimeout`. If it had already been written to the
 * broker it may still arrive: publish again with the same `messageId` and deduplicate.
 */
export class QueuePublishTimeoutError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_PUBLISH_TIMEOUT'
}

/** The connection is down and `buffer.whenDisconnected` is `'reject'`: the message was not buffered. */
export class QueueDisconnectedError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_DISCONNECTED'
}

/** The disconnected buffer is full (by count or bytes); the message was not buffered. */
export class QueueBufferFullError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_BUFFER_FULL'
}

/** The encoded message is larger than `maxMessageBytes`; nothing was sent. */
export class QueueMessageTooLargeError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_MESSAGE_TOO_LARGE'
}

/** A call to the broker did not answer within its timeout. */
export class QueueTimeoutError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_TIMEOUT'
}

/**
 * The broker already has an exchange or queue of this name with other arguments (AMQP 406
 * `inequivalent arg`). `argument` names what differs; delete the queue or rename the group.
 */
export class QueueTopologyMismatchError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_TOPOLOGY_MISMATCH'
  /** The queue or exchange. */
  readonly resource: string
  /** The argument that differs, e.g. `x-delivery-limit`, when the broker said. */
  readonly argument: string | undefined

  constructor(message: string, resource: string, argument: string | undefined, options?: { cause?: unknown }) {
    super(message, options)
    this.resource = resource
    this.argument = argument
  }
}

/** The handler did not settle within `handlerTimeout`; the attempt counts as failed (retryable). */
export class QueueHandlerTimeoutError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_HANDLER_TIMEOUT'
}

/** The queue was closed: no new publish or consumer is taken, and unsent publishes are rejected. */
export class QueueClosedError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_CLOSED'
}

/**
 * Throw it (or wrap a cause in it) from a handler to dead-letter the message at once, without
 * retrying: for errors no retry can fix (a missing record, a refused card).
 */
export class NonRetryableError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_NON_RETRYABLE'
}

/** Every error class of @scalekit/queue, by name. */
export const errors: {
  readonly QueueError: typeof QueueError
  readonly QueueOptionsError: typeof QueueOptionsError
  readonly QueueValidationError: typeof QueueValidationError
  readonly QueueUnroutableError: typeof QueueUnroutableError
  readonly QueueNackError: typeof QueueNackError
  readonly QueuePublishTimeoutError: typeof QueuePublishTimeoutError
  readonly QueueDisconnectedError: typeof QueueDisconnectedError
  readonly QueueBufferFullError: typeof QueueBufferFullError
  readonly QueueMessageTooLargeError: typeof QueueMessageTooLargeError
  readonly QueueTimeoutError: typeof QueueTimeoutError
  readonly QueueTopologyMismatchError: typeof QueueTopologyMismatchError
  readonly QueueHandlerTimeoutError: typeof QueueHandlerTimeoutError
  readonly QueueClosedError: typeof QueueClosedError
  readonly NonRetryableError: typeof NonRetryableError
} = {
  QueueError,
  QueueOptionsError,
  QueueValidationError,
  QueueUnroutableError,
  QueueNackError,
  QueuePublishTimeoutError,
  QueueDisconnectedError,
  QueueBufferFullError,
  QueueMessageTooLargeError,
  QueueTimeoutError,
  QueueTopologyMismatchError,
  QueueHandlerTimeoutError,
  QueueClosedError,
  NonRetryableError,
}
