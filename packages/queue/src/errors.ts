import { CodedError, defineErrors } from '@scalekit/internal'

/**
 * The base class of every error @scalekit/queue throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class QueueError extends CodedError {
  static override readonly code: string = 'ERR_QUEUE'
}

/** Options given to `createQueue` (or a dedup store's factory) are invalid; thrown at construction, never later. */
export class QueueOptionsError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_INVALID_OPTIONS'
}

/**
 * A call got an argument it does not accept (a `publish` delay or message id, `consume` options, a
 * message name, `close` options); thrown before anything is sent.
 */
export class QueueArgumentError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_INVALID_ARGUMENT'
}

/** A payload failed its message type's schema on `publish`; nothing was sent. */
export class QueueValidationError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_INVALID_PAYLOAD'
  /** The schema's issues, as Standard Schema reports them. */
  readonly issues: readonly { readonly message: string }[]

  constructor(
    message: string,
    options?: { cause?: unknown; issues?: readonly { readonly message: string }[] },
  ) {
    super(message, options)
    this.issues = options?.issues ?? []
  }
}

/**
 * The payload cannot travel as JSON: a BigInt, a cycle, a `toJSON` that throws, or a top-level
 * value JSON has no text for (`undefined`, a function, a symbol). `cause` is JSON's own error when
 * it threw. Nothing was sent.
 */
export class QueueEncodeError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_UNENCODABLE'
}

/**
 * The broker could not be reached (refused, unknown host, timed out) before this client ever
 * connected: check the host and port of `url`. `cause` is the socket error. The client keeps
 * trying in the background; publishes made meanwhile are refused, not buffered.
 */
export class QueueUnreachableError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_UNREACHABLE'
}

/**
 * The broker refused the connection itself: the login (403 `ACCESS_REFUSED`: check the user and
 * password of `url`) or the virtual host (it does not exist, or the user may not use it). Retrying
 * cannot fix either: the client stops, `health()` is `down` with this error, and every publish and
 * consumer fails with it.
 */
export class QueueAccessRefusedError extends QueueError {
  static override readonly code: string = 'ERR_QUEUE_ACCESS_REFUSED'
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
  /** The queue or exchange (`''` when not known). */
  readonly resource: string
  /** The argument that differs, e.g. `x-delivery-limit`, when the broker said. */
  readonly argument: string | undefined

  constructor(
    message: string,
    options?: { cause?: unknown; resource?: string; argument?: string | undefined },
  ) {
    super(message, options)
    this.resource = options?.resource ?? ''
    this.argument = options?.argument
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

/** Every error class of @scalekit/queue, keyed by its code (the base first). */
export const errors: {
  readonly ERR_QUEUE: typeof QueueError
  readonly ERR_QUEUE_INVALID_OPTIONS: typeof QueueOptionsError
  readonly ERR_QUEUE_INVALID_ARGUMENT: typeof QueueArgumentError
  readonly ERR_QUEUE_CLOSED: typeof QueueClosedError
  readonly ERR_QUEUE_INVALID_PAYLOAD: typeof QueueValidationError
  readonly ERR_QUEUE_UNENCODABLE: typeof QueueEncodeError
  readonly ERR_QUEUE_UNROUTABLE: typeof QueueUnroutableError
  readonly ERR_QUEUE_PUBLISH_NACKED: typeof QueueNackError
  readonly ERR_QUEUE_PUBLISH_TIMEOUT: typeof QueuePublishTimeoutError
  readonly ERR_QUEUE_DISCONNECTED: typeof QueueDisconnectedError
  readonly ERR_QUEUE_UNREACHABLE: typeof QueueUnreachableError
  readonly ERR_QUEUE_ACCESS_REFUSED: typeof QueueAccessRefusedError
  readonly ERR_QUEUE_BUFFER_FULL: typeof QueueBufferFullError
  readonly ERR_QUEUE_MESSAGE_TOO_LARGE: typeof QueueMessageTooLargeError
  readonly ERR_QUEUE_TIMEOUT: typeof QueueTimeoutError
  readonly ERR_QUEUE_TOPOLOGY_MISMATCH: typeof QueueTopologyMismatchError
  readonly ERR_QUEUE_HANDLER_TIMEOUT: typeof QueueHandlerTimeoutError
  readonly ERR_QUEUE_NON_RETRYABLE: typeof NonRetryableError
} = defineErrors({
  ERR_QUEUE: QueueError,
  ERR_QUEUE_INVALID_OPTIONS: QueueOptionsError,
  ERR_QUEUE_INVALID_ARGUMENT: QueueArgumentError,
  ERR_QUEUE_CLOSED: QueueClosedError,
  ERR_QUEUE_INVALID_PAYLOAD: QueueValidationError,
  ERR_QUEUE_UNENCODABLE: QueueEncodeError,
  ERR_QUEUE_UNROUTABLE: QueueUnroutableError,
  ERR_QUEUE_PUBLISH_NACKED: QueueNackError,
  ERR_QUEUE_PUBLISH_TIMEOUT: QueuePublishTimeoutError,
  ERR_QUEUE_DISCONNECTED: QueueDisconnectedError,
  ERR_QUEUE_UNREACHABLE: QueueUnreachableError,
  ERR_QUEUE_ACCESS_REFUSED: QueueAccessRefusedError,
  ERR_QUEUE_BUFFER_FULL: QueueBufferFullError,
  ERR_QUEUE_MESSAGE_TOO_LARGE: QueueMessageTooLargeError,
  ERR_QUEUE_TIMEOUT: QueueTimeoutError,
  ERR_QUEUE_TOPOLOGY_MISMATCH: QueueTopologyMismatchError,
  ERR_QUEUE_HANDLER_TIMEOUT: QueueHandlerTimeoutError,
  ERR_QUEUE_NON_RETRYABLE: NonRetryableError,
})

/** The `onTimeout` of a broker or store call bounded by `ms`: a `QueueTimeoutError` naming the call. */
export function timedOut(what: string, ms: number): () => QueueTimeoutError {
  return () => new QueueTimeoutError(`${what} did not answer within ${ms} ms`)
}
