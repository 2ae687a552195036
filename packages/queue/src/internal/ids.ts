import { randomUUID } from 'node:crypto'

/**
 * A random trace id (32 hex digits) or parent id (16), from a v4 UUID: `randomUUID()` draws from
 * a cached pool of random bytes, where a `randomBytes()` per id would not. Never all zeros (W3C
 * forbids it): the UUID's version and variant digits are never 0.
 */
export function randomHex(digits: 16 | 32): string {
  const hex = randomUUID().replaceAll('-', '')
  // The last 16 digits start with the variant digit (8–b): 62 random bits, enough for a hop.
  return digits === 32 ? hex : hex.slice(16)
}

/**
 * A version 7 UUID (RFC 9562): the 48-bit Unix time in ms, then 74 random bits. Ids sort by the
 * time they were made, and the consumer reads the publish time back from the id, so a message
 * with a generated id needs no timestamp header. The random part is a v4 UUID's (its variant bits
 * are already the ones v7 needs); only the time and the version digit are written over it.
 */
export function uuidv7(nowMs: number): string {
  const time = nowMs.toString(16).padStart(12, '0')
  return `${time.slice(0, 8)}-${time.slice(8, 12)}-7${randomUUID().slice(15)}`
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The time (ms since the epoch) a version 7 UUID carries, or `undefined` if `id` is not one (in lowercase). */
export function uuidv7Time(id: string): number | undefined {
  if (!UUID_V7.test(id)) return undefined
  return Number.parseInt(`${id.slice(0, 8)}${id.slice(9, 13)}`, 16)
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const NIL = /^[0-]+$/

/**
 * The W3C `traceparent` a message without one is handled under: a sampled trace whose id is the
 * message id's 32 hex digits when the id is a UUID (so every group's handler of one message joins
 * one trace), else a new trace; each call a new parent id (a hop of its own).
 */
export function messageTraceparent(messageId: string): string {
  const traceId =
    UUID.test(messageId) && !NIL.test(messageId) ? messageId.replaceAll('-', '').toLowerCase() : randomHex(32)
  return `00-${traceId}-${randomHex(16)}-01`
}
