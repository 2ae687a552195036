import { createHmac, timingSafeEqual } from 'node:crypto'
import { DbInvalidTokenError } from '../errors'

/**
 * A consistency token: `1.<lsn hex>` or, with a secret, `1.<lsn hex>.<HMAC-SHA256 base64url>`.
 * Opaque to users; it carries only a WAL position, nothing about the data written.
 */
const PATTERN = /^1\.([0-9a-f]{1,16})(?:\.([A-Za-z0-9_-]{43}))?$/

/** Encodes a position as a token, signed with the first key when keys are configured. */
export function encodeToken(lsn: bigint, keys: readonly Uint8Array[] | undefined): string {
  const body = `1.${lsn.toString(16)}`
  const key = keys?.[0]
  return key === undefined ? body : `${body}.${sign(body, key)}`
}

/**
 * Decodes a token; throws `ERR_DB_INVALID_TOKEN` if it is malformed, unsigned while keys are set, or
 * verifies with none of them (every key is tried, so a key can be rotated out without refusing the
 * tokens it signed meanwhile).
 */
export function decodeToken(token: string, keys: readonly Uint8Array[] | undefined): bigint {
  const match = typeof token === 'string' && token.length <= 80 ? PATTERN.exec(token) : null
  if (match === null) throw new DbInvalidTokenError('malformed consistency token')
  const [, hex = '', signature] = match
  if (keys !== undefined) {
    if (signature === undefined)
      throw new DbInvalidTokenError('unsigned consistency token (a secret is configured)')
    const given = Buffer.from(signature)
    let valid = false
    for (const key of keys) {
      const expected = Buffer.from(sign(`1.${hex}`, key))
      // Every key is tried, whatever matched: the time taken does not say which key signed.
      if (expected.length === given.length && timingSafeEqual(expected, given)) valid = true
    }
    if (!valid) throw new DbInvalidTokenError('consistency token signature does not verify')
  }
  return BigInt(`0x${hex}`)
}

function sign(body: string, key: Uint8Array): string {
  return createHmac('sha256', key).update(body).digest('base64url')
}
