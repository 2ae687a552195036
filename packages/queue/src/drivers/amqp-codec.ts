import type { ConsumeMessage, Options } from 'amqplib'
import type { DeadLetter, Envelope } from './transport'

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
 * (adds to it). The attempt header is left out on the first attempt (read back as 1): every header
 * is encoded by the client and stored by the broker for each message.
 */
export function toProperties(env: Envelope, headers: Record<string, string | number>): Options.Publish {
  if (env.attempt !== 1) headers[HEADERS.attempt] = env.attempt
  headers[HEADERS.publishedAt] = env.publishedAt
  headers[HEADERS.traceparent] = env.traceparent
  return {
    persistent: true,
    mandatory: true,
    contentType: 'application/json',
    messageId: env.messageId,
    type: env.type,
    correlationId: env.correlationId,
    timestamp: Math.floor(env.publishedAt / 1000),
    headers,
  }
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
export function fromMessage(msg: ConsumeMessage, fallbackType: string): Envelope | undefined {
  const p = msg.properties
  const h = (p.headers ?? {}) as Record<string, unknown>
  if (typeof p.messageId !== 'string' || p.messageId === '') return undefined
  const attempt = Number(h[HEADERS.attempt] ?? 1)
  const traceparent = h[HEADERS.traceparent]
  const publishedAt = Number(h[HEADERS.publishedAt] ?? (typeof p.timestamp === 'number' ? p.timestamp * 1000 : Date.now()))
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
