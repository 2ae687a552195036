import { randomFillSync } from 'node:crypto'

// Trace and span ids for every request: one randomFillSync per 4 KiB of ids instead of a system
// call per id.
const pool = Buffer.allocUnsafe(4096)
let offset = pool.length

/** `bytes` random bytes as lowercase hex (never all zeros, which W3C trace context forbids). */
export function randomHex(bytes: number): string {
  if (offset + bytes > pool.length) {
    randomFillSync(pool)
    offset = 0
  }
  const hex = pool.toString('hex', offset, offset + bytes)
  offset += bytes
  return /^0+$/.test(hex) ? randomHex(bytes) : hex
}
