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
  writeHex(text, AT[index] ?? 0, value)
}

/** Writes `value` (a byte) as two lowercase hex digits at `at`. */
function writeHex(into: Buffer, at: number, value: number): void {
  const digits = HEX2[value & 0xff] ?? 0
  into[at] = digits >>> 8
  into[at + 1] = digits & 0xff
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

/** Whether `id` is a UUID in its text form (any version, either case) other than the nil UUID. */
function isUuid(id: string): boolean {
  if (id.length !== 36) return false
  let nonZero = false
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i)
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return false
    } else if (hexValue(c | 0x20) < 0) return false
    else if (c !== 0x30) nonZero = true
  }
  return nonZero
}

/** Where a traceparent is built, `00-<32 hex>-<16 hex>-01`, read back as one flat string. */
const parent = Buffer.from(`00-${'0'.repeat(32)}-${'0'.repeat(16)}-01`, 'latin1')

/** Writes `bytes` random bytes as hex at `at` (never all zeros: W3C forbids all-zero ids). */
function writeRandomHex(into: Buffer, at: number, bytes: number): void {
  const r = take(bytes)
  let zero = true
  for (let i = 0; i < bytes; i++) {
    const value = pool[r + i] ?? 0
    if (value !== 0) zero = false
    writeHex(into, at + 2 * i, value)
  }
  if (zero) into[at + 2 * bytes - 1] = 0x31
}

/**
 * The W3C `traceparent` a message without one is handled under: a sampled trace whose id is the
 * message id's 32 hex digits when the id is a UUID (so every group's handler of one message joins
 * one trace), else a new trace; each call a new parent id (a hop of its own).
 */
export function messageTraceparent(messageId: string): string {
  if (isUuid(messageId)) {
    let j = 3
    for (let i = 0; i < 36; i++) {
      const c = messageId.charCodeAt(i)
      // `| 0x20` lowercases A–F and leaves the digits as they are.
      if (c !== 0x2d) parent[j++] = c | 0x20
    }
  } else writeRandomHex(parent, 3, 16)
  writeRandomHex(parent, 36, 8)
  return parent.toString('latin1')
}
