import type { ConsumeMessage, GetMessage, Message, Options } from 'amqplib'
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

/** The envelope of a delivery, or `undefined` when it lacks what this package always sets. */
export function fromMessage(msg: Message, fallbackType: string): Envelope | undefined {
  const p = msg.properties
  const h = (p.headers ?? {}) as Record<string, unknown>
  if (typeof p.messageId !== 'string' || p.messageId === '') return undefined
  const attempt = Number(h[HEADERS.attempt] ?? 1)
  const traceparent = h[HEADERS.traceparent]
  const publishedAt = Number(
    h[HEADERS.publishedAt] ??
      uuidv7Time(p.messageId) ??
      (typeof p.timestamp === 'number' ? p.timestamp * 1000 : Date.now()),
  )
  return {
    messageId: p.messageId,
    type: typeof p.type === 'string' && p.type !== '' ? p.type : fallbackType,
    body: msg.content,
    publishedAt: Number.isFinite(publishedAt) ? publishedAt : Date.now(),
    correlationId: typeof p.correlationId === 'string' ? p.correlationId : '',
    traceparent: typeof traceparent === 'string' ? traceparent : '',
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
  }
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
  const envelope = fromMessage(msg, fallbackType) ?? {
    messageId: `dead-letter-${msg.fields.deliveryTag}`,
    type: fallbackType,
    body: msg.content,
    publishedAt: Date.now(),
    correlationId: '',
    traceparent: '',
    attempt: 1,
  }
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
