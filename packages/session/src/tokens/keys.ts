import { createPrivateKey, createPublicKey, createSecretKey } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'
import { importJWK } from 'jose'
import type { CryptoKey, JWK } from 'jose'
import { describeValue } from '@scalekit/internal'
import { SessionTokenError } from '../errors'
import type { KeyLookup } from './verify'

/** A JSON Web Key Set as `jose` and RFC 7517 write it: `{ keys: [...] }`. */
export interface KeySet {
  readonly keys: readonly JWK[]
}

/** One key of the ring: its id, the one algorithm it is bound to, and what it does. */
export interface RingKey {
  readonly kid: string
  readonly alg: string
  readonly key: CryptoKey
}

/** The keys in use: the first private key signs, every key verifies (until it is removed from the set). */
export interface KeyRing {
  readonly signer: RingKey
  readonly verifiers: ReadonlyMap<string, RingKey>
  /** The public halves, to publish as a JWKS for other services (symmetric keys are never listed). */
  readonly publicSet: KeySet
  readonly algorithms: readonly string[]
  /** The verifying key of a header: its `kid` in this ring, bound to the header's `alg`. */
  readonly lookup: KeyLookup
}

const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'] as const
const HS_BYTES: Readonly<Record<string, number>> = { HS256: 32, HS384: 48, HS512: 64 }
/** Algorithms a key may carry; `none` and anything else are refused at construction. */
export const SUPPORTED_ALGORITHMS: readonly string[] = [
  'EdDSA',
  'Ed25519',
  'ES256',
  'ES384',
  'ES512',
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'HS256',
  'HS384',
  'HS512',
]

/** The algorithm a JWK without `alg` is bound to: one per key, never taken from a token. */
function defaultAlgorithm(jwk: JWK): string | undefined {
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA'
  if (jwk.kty === 'EC') return { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' }[jwk.crv ?? '']
  if (jwk.kty === 'RSA') return 'RS256'
  if (jwk.kty === 'oct') return 'HS256'
  return undefined
}

/** A key of the set, checked but not imported yet. */
interface CheckedKey {
  readonly jwk: JWK
  readonly publicJwk: JWK
  readonly alg: string
  readonly isPrivate: boolean
}

/** The checked key set: what {@link importKeyRing} imports. */
export interface CheckedKeySet {
  readonly keys: readonly CheckedKey[]
  readonly algorithms: readonly string[]
}

/**
 * Checks a key set synchronously (at construction): each key needs a unique `kid` and binds one
 * algorithm (its `alg`, else the family's default) that must be in `allowed`; HMAC secrets must be
 * at least as long as their hash; the first key signs, so it must be private; key material must
 * parse. `fail` throws the caller's coded error.
 */
export function checkKeySet(
  set: unknown,
  allowed: readonly string[] | undefined,
  name: string,
  fail: (message: string) => never,
): CheckedKeySet {
  const keys = (set as { keys?: unknown } | null)?.keys
  if (!Array.isArray(keys) || keys.length === 0)
    fail(`${name} must be a JWK Set { keys: [...] } with at least one key, got ${describeValue(set)}`)
  const seen = new Set<string>()
  const checked: CheckedKey[] = []
  for (const [i, raw] of (keys as unknown[]).entries()) {
    const at = `${name}.keys[${i}]`
    if (typeof raw !== 'object' || raw === null) fail(`${at} must be a JWK object, got ${describeValue(raw)}`)
    const jwk = raw as JWK
    if (typeof jwk.kid !== 'string' || jwk.kid === '') fail(`${at} needs a kid (a non-empty string)`)
    const kid = jwk.kid
    if (seen.has(kid)) fail(`${at}: kid ${describeValue(kid)} is used twice`)
    seen.add(kid)
    const alg = jwk.alg ?? defaultAlgorithm(jwk)
    if (alg === undefined || !SUPPORTED_ALGORITHMS.includes(alg))
      fail(`${at}: algorithm ${describeValue(alg)} is not supported (${SUPPORTED_ALGORITHMS.join(', ')})`)
    const bound = alg
    if (allowed !== undefined && !allowed.includes(bound))
      fail(`${at}: its algorithm ${bound} is not in the algorithms allow-list (${allowed.join(', ')})`)
    const minBytes = HS_BYTES[bound]
    if (minBytes !== undefined && Buffer.from(jwk.k ?? '', 'base64url').length < minBytes)
      fail(`${at}: an ${bound} secret must be at least ${minBytes} bytes (RFC 7518 §3.2)`)
    if (minBytes === undefined && jwk.kty === 'oct') fail(`${at}: a symmetric key can only be used with HS*`)
    const isPrivate = jwk.kty === 'oct' || typeof jwk.d === 'string'
    if (i === 0 && !isPrivate) fail(`${at}: the first key signs, so it must be a private key`)
    const publicJwk = Object.fromEntries(
      Object.entries(jwk).filter(([member]) => !(PRIVATE_MEMBERS as readonly string[]).includes(member)),
    ) as JWK
    try {
      if (jwk.kty === 'oct') createSecretKey(Buffer.from(jwk.k ?? '', 'base64url'))
      else {
        createPublicKey({ key: publicJwk as JsonWebKey, format: 'jwk' })
        if (isPrivate) createPrivateKey({ key: jwk as JsonWebKey, format: 'jwk' })
      }
    } catch (error) {
      fail(`${at}: not a usable ${bound} key (${(error as Error).message})`)
    }
    checked.push({ jwk, publicJwk, alg: bound, isPrivate })
  }
  return { keys: checked, algorithms: allowed ?? [...new Set(checked.map((k) => k.alg))] }
}

/** Imports a checked key set into jose's keys: the first key signs, every key verifies. */
export async function importKeyRing(set: CheckedKeySet): Promise<KeyRing> {
  const verifiers = new Map<string, RingKey>()
  const publicKeys: JWK[] = []
  let signer: RingKey | undefined
  for (const { jwk, publicJwk, alg, isPrivate } of set.keys) {
    const kid = jwk.kid as string
    const verifyKey = (await importJWK(jwk.kty === 'oct' ? jwk : publicJwk, alg)) as CryptoKey
    if (signer === undefined && isPrivate)
      signer = { kid, alg, key: (await importJWK(jwk, alg)) as CryptoKey }
    verifiers.set(kid, { kid, alg, key: verifyKey })
    if (jwk.kty !== 'oct') publicKeys.push({ ...publicJwk, alg, use: 'sig' })
  }
  const lookup: KeyLookup = (header) => {
    const found = header.kid === undefined ? undefined : verifiers.get(header.kid)
    if (found === undefined)
      throw new SessionTokenError('no key of the configured set has this kid', { reason: 'unknown-key' })
    if (found.alg !== header.alg)
      throw new SessionTokenError(`the key of this kid is bound to ${found.alg}`, { reason: 'algorithm' })
    return found.key
  }
  return {
    signer: signer as RingKey,
    verifiers,
    publicSet: { keys: publicKeys },
    algorithms: set.algorithms,
    lookup,
  }
}
