import { createHmac, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'
import type { JWK } from 'jose'

/** A fresh Ed25519 private JWK with `kid`. */
export function edKey(kid: string): JWK {
  const { privateKey } = generateKeyPairSync('ed25519')
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg: 'EdDSA' }
}

/** A fresh P-256 private JWK with `kid`. */
export function esKey(kid: string): JWK {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid, alg: 'ES256' }
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/**
 * A compact JWS built by hand, so a test can make what jose refuses to sign (`crit`, `jku`, no
 * `exp`…): signed with the Ed25519 `key`, or by HMAC with `hmacSecret`, or unsigned.
 */
export function craft(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
  signer: { key: JWK } | { hmacSecret: Buffer | string } | 'none',
): string {
  const input = `${b64(header)}.${b64(payload)}`
  if (signer === 'none') return `${input}.`
  if ('hmacSecret' in signer)
    return `${input}.${createHmac('sha256', signer.hmacSecret).update(input).digest('base64url')}`
  const key = createPrivateKey({ key: signer.key as JsonWebKey, format: 'jwk' })
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`
}

/** Seconds since the epoch. */
export const nowSec = (): number => Math.floor(Date.now() / 1000)
