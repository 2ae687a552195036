import { describeValue } from '@scalekit/internal'
import { isTraceparent } from './context'
import { QueueArgumentError } from './errors'
import type { MessageType } from './message'
import { argumentChecks } from './options'

/** A `publish` call's options after validation; durations in ms. */
export interface ResolvedPublish {
  readonly delayMs: number
  readonly messageId: string | undefined
  readonly correlationId: string | undefined
  readonly traceparent: string | undefined
}

/** What a publish without options resolves to (shared: no object per call). */
const NONE: ResolvedPublish = Object.freeze({
  delayMs: 0,
  messageId: undefined,
  correlationId: undefined,
  traceparent: undefined,
})

/** AMQP carries message and correlation ids as short strings: at most 255 bytes. */
const MAX_SHORT_STRING_BYTES = 255

/** Whether `value` fits an AMQP short string property (a non-empty string of at most 255 UTF-8 bytes). */
function isShortString(value: unknown, maxChars: number): value is string {
  return (
    typeof value === 'string' &&
    value !== '' &&
    value.length <= maxChars &&
    Buffer.byteLength(value, 'utf8') <= MAX_SHORT_STRING_BYTES
  )
}

/**
 * Checks `publish`'s options (before anything is encoded or sent): a bad one is
 * `ERR_QUEUE_INVALID_ARGUMENT` naming it.
 */
export function resolvePublishOptions(options: unknown, maxDelay: number): ResolvedPublish {
  if (options === undefined) return NONE
  const given = argumentChecks.group('options', options as Record<string, unknown>)
  const { delay, messageId, correlationId, traceparent } = given
  if (
    delay === undefined &&
    messageId === undefined &&
    correlationId === undefined &&
    traceparent === undefined
  )
    return NONE
  if (messageId !== undefined && !isShortString(messageId, 200)) {
    throw new QueueArgumentError(
      `messageId must be a non-empty string of at most 200 characters (and 255 UTF-8 bytes), got ${describeValue(messageId)}`,
    )
  }
  if (correlationId !== undefined && !isShortString(correlationId, 255)) {
    throw new QueueArgumentError(
      `correlationId must be a non-empty string of at most 255 UTF-8 bytes, got ${describeValue(correlationId)}`,
    )
  }
  if (traceparent !== undefined && !isTraceparent(traceparent)) {
    throw new QueueArgumentError(
      `traceparent must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>), got ${describeValue(traceparent)}`,
    )
  }
  return {
    delayMs: delay === undefined ? 0 : argumentChecks.duration('delay', delay, 0, { max: maxDelay }),
    messageId,
    correlationId,
    traceparent,
  }
}

/**
 * The context's correlation id when it can travel as one, else none: the context is often set from
 * a request header, and a value AMQP cannot carry must not fail (or reach) the publish.
 */
export function contextCorrelationId(value: unknown): string {
  return isShortString(value, 255) ? value : ''
}

/** Throws `ERR_QUEUE_INVALID_ARGUMENT` unless `type` is a message type made by `defineMessage`. */
export function checkType(type: unknown, call: string): asserts type is MessageType<unknown, unknown> {
  const t = type as Partial<MessageType> | null | undefined
  if (
    typeof t !== 'object' ||
    t === null ||
    typeof t.name !== 'string' ||
    typeof t.schema?.['~standard']?.validate !== 'function'
  ) {
    throw new QueueArgumentError(
      `${call} takes a message type from defineMessage(name, schema) first, got ${describeValue(type)}`,
    )
  }
}
