import { createHash } from 'node:crypto'
import type { ConsumeMessage, GetMessage, Message, Options } from 'amqplib'
import { isTraceparent } from '../../context'
import type { DeadLetterReason } from '../../channels'
import { uuidv7Time } from '../../internal/ids'
import type { DeadLetter, DeadLetterRecord, Envelope } from '../transport'

/** Headers this package sets; everything else is the AMQP basic properties. */
export const HEADERS = {
  attempt: 'x-sk-attempt',
  publishedAt: 'x-sk-published-at',
  traceparent: 'traceparent',
  reason: 'x-sk-reason',
  attempts: 'x-sk-attempts',
  error: 'x-sk-error',
  group: 'x-sk-group',
} as const

/**
 * The publish properties of an envelope: persistent, mandatory, JSON. Takes ownership of `headers`
 * (adds to it; `undefined` for none). Every property and header is encoded by the client and stored by the broker for
 * each message, so only what the consumer cannot know otherwise is sent:
 * - the attempt header only after the first attempt (read back as 1);
 * - the publish time only when the message id does not carry it (a generated id is a UUIDv7);
 * - the correlation id and `traceparent` only when the publisher had them (the consumer derives
 *   both from the message id otherwise);
 * - `type` and `timestamp` only on dead letters, read by people and tools: a group queue holds
 *   one message type, the consumer knows it.
 */
export function toProperties(
  env: Envelope,
  extra: Record<string, string | number> | undefined,
  deadLetter = false,
): Options.Publish {
  // No headers object at all when there is nothing to say: amqplib encodes what it is given.
  let headers = extra
  if (env.attempt !== 1) (headers ??= {})[HEADERS.attempt] = env.attempt
  if (uuidv7Time(env.messageId) !== env.publishedAt) (headers ??= {})[HEADERS.publishedAt] = env.publishedAt
  if (env.traceparent !== '') (headers ??= {})[HEADERS.traceparent] = env.traceparent
  const properties: Options.Publish = {
    persistent: true,
    mandatory: true,
    contentType: 'application/json',
    messageId: env.messageId,
  }
  if (headers !== undefined) properties.headers = headers
  if (env.correlationId !== '') properties.correlationId = env.correlationId
  if (deadLetter) {
    properties.type = env.type
    properties.timestamp = Math.floor(env.publishedAt / 1000)
  }
  return properties
}

/** The extra headers of a dead letter. */
export function deadLetterHeaders(dead: DeadLetter): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    [HEADERS.reason]: dead.reason,
    [HEADERS.attempts]: dead.attempts,
    [HEADERS.group]: dead.group,
  }
  if (dead.error !== undefined) headers[HEADERS.error] = dead.error.slice(0, 1000)
  return headers
}

/** How a delivery is read: what the consumer decides, never the message. */
export interface ReadAs {
  /** The message type: the consumer's own (a group queue holds one type), whatever `type` the message carries. */
  readonly type: string
  /**
   * The routing key of this group's retries (`retry:<group>.<type>`): the attempt header is read
   * only on a delivery that came by it, which only this package's retry path publishes to; on any
   * other delivery the attempt is 1, whatever headers the publisher set. `undefined`: trust the
   * header (dead letters read back, which report what was written).
   */
  readonly retryKey: string | undefined
}

/**
 * The envelope of a delivery. A message without a `messageId` (a plain amqplib publisher) gets a
 * stable one derived from what the broker keeps across redeliveries (see {@link derivedMessageId}).
 */
export function fromMessage(msg: Message, as: ReadAs): Envelope {
  const p = msg.properties
  const h = (p.headers ?? {}) as Record<string, unknown>
  const messageId =
    typeof p.messageId === 'string' && p.messageId !== '' ? p.messageId : derivedMessageId(msg)
  const trusted = as.retryKey === undefined || msg.fields.routingKey === as.retryKey
  const attempt = trusted ? Number(h[HEADERS.attempt] ?? 1) : 1
  const traceparent = h[HEADERS.traceparent]
  const publishedAt = Number(
    h[HEADERS.publishedAt] ??
      uuidv7Time(messageId) ??
      (typeof p.timestamp === 'number' ? p.timestamp * 1000 : Date.now()),
  )
  return {
    messageId,
    type: as.type,
    body: msg.content,
    publishedAt: Number.isFinite(publishedAt) ? publishedAt : Date.now(),
    correlationId: typeof p.correlationId === 'string' ? p.correlationId : '',
    traceparent: isTraceparent(traceparent) ? traceparent : '',
    attempt: Number.isSafeInteger(attempt) && attempt > 0 ? attempt : 1,
  }
}

/**
 * The id of a message published without one: a version 8 UUID (RFC 9562, custom) of the SHA-256
 * of its exchange, routing key, `timestamp` property and body — what stays the same when the
 * broker redelivers it, so a redelivery is recognised (dedup) and its trace is one trace. Two
 * publishes of the same body to the same key without a timestamp get the same id: publishers that
 * can, should set `messageId`.
 */
export function derivedMessageId(msg: Message): string {
  const hash = createHash('sha256')
  hash.update(`${msg.fields.exchange}\0${msg.fields.routingKey}\0${String(msg.properties.timestamp ?? '')}\0`)
  hash.update(msg.content)
  const h = hash.digest('hex')
  const variant = ((Number.parseInt(h.charAt(16), 16) & 0x3) | 0x8).toString(16)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-8${h.slice(13, 16)}-${variant}${h.slice(17, 20)}-${h.slice(20, 32)}`
}

/** How many times the broker delivered this message before (quorum `x-delivery-count`). */
export function redeliveries(msg: ConsumeMessage): number {
  const headers: Record<string, unknown> | undefined = msg.properties.headers
  const count = Number(headers?.['x-delivery-count'] ?? 0)
  if (Number.isFinite(count) && count > 0) return count
  return msg.fields.redelivered ? 1 : 0
}

const REASONS: readonly DeadLetterReason[] = [
  'failed',
  'non-retryable',
  'invalid',
  'undecodable',
  'delivery-limit',
]

/**
 * A message read from group `group`'s dead-letter queue. The consumer's own dead letters carry
 * `x-sk-*` headers; the broker's (a message over the delivery limit) carry `x-death`, which names
 * the group queue `<app>.<group>.<type>` it left.
 */
export function fromDeadLetter(msg: GetMessage, group: string, groupQueuePrefix: string): DeadLetterRecord {
  const h = (msg.properties.headers ?? {}) as Record<string, unknown>
  const death = Array.isArray(h['x-death'])
    ? (h['x-death'][0] as Record<string, unknown> | undefined)
    : undefined
  const queue = typeof death?.queue === 'string' ? death.queue : ''
  const fallbackType = queue.startsWith(groupQueuePrefix) ? queue.slice(groupQueuePrefix.length) : ''
  const envelope = fromMessage(msg, {
    type:
      typeof msg.properties.type === 'string' && msg.properties.type !== ''
        ? msg.properties.type
        : fallbackType,
    retryKey: undefined,
  })
  const reason = REASONS.find((r) => r === h[HEADERS.reason]) ?? 'delivery-limit'
  const attempts = Number(h[HEADERS.attempts] ?? envelope.attempt)
  const error = h[HEADERS.error]
  return {
    envelope,
    group,
    reason,
    attempts: Number.isInteger(attempts) ? attempts : envelope.attempt,
    error: typeof error === 'string' ? error : undefined,
  }
}
