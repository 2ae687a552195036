import { randomFillSync } from 'node:crypto'

/**
 * Random bytes from the CSPRNG, filled a pool at a time: one `randomFillSync` per few hundred ids
 * instead of one per id.
 */
const POOL_BYTES = 8192
const pool = Buffer.allocUnsafe(POOL_BYTES)
let poolOffset = POOL_BYTES

/** The offset in `pool` of `bytes` fresh random bytes. */
function take(bytes: number): number {
  if (poolOffset + bytes > POOL_BYTES) {
    randomFillSync(pool)
    poolOffset = 0
  }
  const start = poolOffset
  poolOffset += bytes
  return start
}

/** `bytes` random bytes as lowercase hex; never all zeros (W3C forbids all-zero trace and parent ids). */
export function randomHex(bytes: number): string {
  const start = take(bytes)
  for (let i = start; i < start + bytes; i++) if (pool[i] !== 0) return pool.toString('hex', start, start + bytes)
  return `${'0'.repeat(bytes * 2 - 1)}1`
}

/** The two hex digits of every byte value, as character codes (high digit << 8 | low digit). */
const HEX2 = Uint16Array.from({ length: 256 }, (_, b) => ('0123456789abcdef'.charCodeAt(b >>> 4) << 8) | '0123456789abcdef'.charCodeAt(b & 0x0f))
/** The text offset of each of the 16 bytes (the dashes stay where `text` has them). */
const AT = Uint8Array.from([0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34])
/** Where the text of a UUID is built: written byte by byte, read back as ONE flat string. */
const text = Buffer.alloc(36, 0x2d)

/**
 * A version 7 UUID (RFC 9562): the 48-bit Unix time in ms, then 74 random bits. Ids sort by the
 * time they were made, and the consumer reads the publish time back from the id, so a message
 * with a generated id needs no timestamp header. Built in a buffer: `crypto.randomUUID()` joins
 * its text from 20 pieces, which costs more than the id itself at tens of thousands a second.
 */
export function uuidv7(nowMs: number): string {
  const r = take(10)
  // 48 bits of time: the top 16 bits, then the low 32 (numbers above 2^32 cannot be shifted).
  const high = Math.floor(nowMs / 0x1_0000_0000)
  const low = nowMs >>> 0
  byte(0, high >>> 8)
  byte(1, high)
  byte(2, low >>> 24)
  byte(3, low >>> 16)
  byte(4, low >>> 8)
  byte(5, low)
  byte(6, 0x70 | ((pool[r] ?? 0) & 0x0f))
  byte(7, pool[r + 1] ?? 0)
  byte(8, 0x80 | ((pool[r + 2] ?? 0) & 0x3f))
  for (let i = 9; i < 16; i++) byte(i, pool[r + i - 6] ?? 0)
  return text.toString('latin1')
}

/** Writes byte `index` of the UUID as two hex digits; the dashes (before bytes 4, 6, 8, 10) stay. */
function byte(index: number, value: number): void {
  const at = AT[index] ?? 0
  const digits = HEX2[value & 0xff] ?? 0
  text[at] = digits >>> 8
  text[at + 1] = digits & 0xff
}

/**
 * The time (ms since the epoch) a version 7 UUID carries, or `undefined` if `id` is not one. Runs
 * for every message sent and received: character checks, no regular expression.
 */
export function uuidv7Time(id: string): number | undefined {
  if (id.length !== 36 || id.charCodeAt(8) !== 0x2d || id.charCodeAt(13) !== 0x2d || id.charCodeAt(14) !== 0x37 || id.charCodeAt(18) !== 0x2d || id.charCodeAt(23) !== 0x2d) return undefined
  const variant = id.charCodeAt(19)
  if (variant !== 0x38 && variant !== 0x39 && variant !== 0x61 && variant !== 0x62) return undefined
  let time = 0
  for (let i = 0; i < 13; i++) {
    if (i === 8) continue
    const digit = hexValue(id.charCodeAt(i))
    if (digit < 0) return undefined
    time = time * 16 + digit
  }
  return time
}

/** The value of a lowercase hex digit, or -1. */
function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30
  if (code >= 0x61 && code <= 0x66) return code - 0x57
  return -1
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/**
 * The W3C trace id a message without a `traceparent` belongs to: its id's 32 hex digits when the
 * id is a UUID (so every group's consumer of one message joins one trace), else a new one.
 */
export function traceIdOf(messageId: string): string {
  if (messageId.length === 36 && UUID.test(messageId) && messageId !== '00000000-0000-0000-0000-000000000000') return messageId.replaceAll('-', '').toLowerCase()
  return randomHex(16)
}
