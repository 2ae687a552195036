import { createHmac, timingSafeEqual } from 'node:crypto'
import { DbInvalidTokenError } from '../errors'

/**
 * A consistency token: `1.<lsn hex>` or, with a secret, `1.<lsn hex>.<HMAC-SHA256 base64url>`.
 * Opaque to users; it carries only a WAL position, nothing about the data written.
 */
const PATTERN = /^1\.([0-9a-f]{1,16})(?:\.([A-Za-z0-9_-]{43}))?$/

/** Encodes a position as a token, signed when a secret is configured. */
export function encodeToken(lsn: bigint, secret: Uint8Array | undefined): string {
  const body = `1.${lsn.toString(16)}`
  return secret === undefined ? body : `${body}.${sign(body, secret)}`
}

/** Decodes a token; throws `ERR_DB_INVALID_TOKEN` if it is malformed, unsigned while a secret is set, or forged. */
export function decodeToken(token: string, secret: Uint8Array | undefined): bigint {
  const match = typeof token === 'string' && token.length <= 80 ? PATTERN.exec(token) : null
  if (match === null) throw new DbInvalidTokenError('malformed consistency token')
  const [, hex = '', signature] = match
  if (secret !== undefined) {
    if (signature === undefined)
      throw new DbInvalidTokenError('unsigned consistency token (a secret is configured)')
    const expected = Buffer.from(sign(`1.${hex}`, secret))
    const given = Buffer.from(signature)
    if (expected.length !== given.length || !timingSafeEqual(expected, given))
      throw new DbInvalidTokenError('consistency token signature does not verify')
  }
  return BigInt(`0x${hex}`)
}

function sign(body: string, secret: Uint8Array): string {
  return createHmac('sha256', secret).update(body).digest('base64url')
}
