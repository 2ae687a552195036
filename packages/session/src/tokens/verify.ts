import { errors as joseErrors, jwtVerify } from 'jose'
import type { CryptoKey, JWTPayload } from 'jose'
import { SessionError, SessionTokenError } from '../errors'
import type { TokenReason } from '../errors'

/** What one kind of token must satisfy; fixed by configuration, never read from the token. */
export interface VerifyRules {
  readonly algorithms: readonly string[]
  readonly issuer: string | readonly string[]
  readonly audience: string | readonly string[]
  /** The `typ` header this kind carries (`at+jwt`, `rt+jwt`, `service+jwt`); undefined: not checked. */
  readonly typ: string | undefined
  readonly clockToleranceSec: number
  /** Tokens longer than this many characters are refused before any parsing. */
  readonly maxTokenSize: number
  readonly requiredClaims: readonly string[]
}

/** Finds the key for a header: a local key set by `kid`, or jose's remote key set. */
export type KeyLookup = (header: TokenHeader) => CryptoKey | Promise<CryptoKey>

/** The protected header fields a lookup may read. */
export interface TokenHeader {
  readonly alg: string
  readonly kid?: string
  readonly typ?: string
}

const SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/
/** Headers that would let a token say where its key comes from (RFC 8725 §3.10): never followed. */
const KEY_LOCATORS = ['jku', 'x5u', 'jwk', 'x5c']

function refuse(reason: TokenReason, message: string, cause?: unknown): never {
  throw new SessionTokenError(message, { reason, cause })
}

/** Refuses what is not a compact JWS within the size limit, before any parsing. */
function checkForm(token: unknown, rules: VerifyRules): asserts token is string {
  if (typeof token !== 'string' || token === '') refuse('missing', 'no token')
  if (token.length > rules.maxTokenSize)
    refuse('too-large', `the token is longer than maxTokenSize (${rules.maxTokenSize} characters)`)
  if (!SHAPE.test(token)) refuse('malformed', 'not a compact JWS (three base64url segments)')
}

/** The header checks jose leaves to us: the allow-list, key-locating headers, `crit`. */
function checkEncodedHeader(encoded: string, rules: VerifyRules): TokenHeader {
  let header: unknown
  try {
    header = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'))
  } catch (error) {
    refuse('malformed', 'the token header is not base64url JSON', error)
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    refuse('malformed', 'the token header is not a JSON object')
  const fields = header as Record<string, unknown>
  const alg = fields['alg']
  if (typeof alg !== 'string' || !rules.algorithms.includes(alg))
    refuse('algorithm', `algorithm ${JSON.stringify(alg)} is not allowed`)
  for (const name of KEY_LOCATORS) {
    if (name in fields) refuse('header', `the "${name}" header is refused: keys come from the configured set`)
  }
  if ('crit' in fields) refuse('crit', 'the "crit" header names extensions this verifier does not process')
  const kid = fields['kid']
  if (kid !== undefined && typeof kid !== 'string') refuse('malformed', 'the "kid" header is not a string')
  const typ = fields['typ']
  return Object.freeze({
    alg,
    ...(kid === undefined ? {} : { kid }),
    ...(typeof typ === 'string' ? { typ } : {}),
  })
}

/** The checked header of a token (size and shape first). */
export function checkHeader(token: unknown, rules: VerifyRules): TokenHeader {
  checkForm(token, rules)
  return checkEncodedHeader(token.slice(0, token.indexOf('.')), rules)
}

/** Most headers one memo keeps before it starts again. */
const MEMO_SIZE = 32

/**
 * Checked headers of tokens that were verified, by their encoded form, per allow-list. The tokens of
 * one key share one header, and its checks depend only on its bytes and the allow-list, so a repeated
 * header skips the decoding and the checks; everything else about the token is checked every time. A
 * header is kept only once a token carrying it verified, so forged headers cannot fill it; it starts
 * again when full (the headers of a retired key go).
 */
const memos = new WeakMap<readonly string[], Map<string, TokenHeader>>()

function memoOf(algorithms: readonly string[]): Map<string, TokenHeader> {
  let memo = memos.get(algorithms)
  if (memo === undefined) memos.set(algorithms, (memo = new Map<string, TokenHeader>()))
  return memo
}

/** Maps jose's errors to reasons; anything unknown is `malformed`. */
function reasonOf(error: unknown): TokenReason {
  if (error instanceof joseErrors.JWTExpired) return 'expired'
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.reason === 'missing') return 'claims'
    if (error.claim === 'nbf') return 'not-yet-valid'
    if (error.claim === 'iss') return 'issuer'
    if (error.claim === 'aud') return 'audience'
    if (error.claim === 'typ') return 'type'
    return 'claims'
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature'
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'algorithm'
  if (error instanceof joseErrors.JWKSNoMatchingKey) return 'unknown-key'
  if (error instanceof joseErrors.JOSENotSupported) return 'crit'
  return 'malformed'
}

/**
 * Verifies a compact JWT against `rules` with the key `lookup` returns: the size first (no parsing
 * of an oversized token), the header (allow-listed `alg`, no `jku`/`x5u`/`jwk`/`x5c`, no `crit`),
 * then jose (signature, `typ`, `iss`, `aud`, `exp`, `nbf`, required claims, clock tolerance).
 * Throws {@link SessionTokenError} with the reason of the first check that failed.
 */
export async function verifyJwt(token: unknown, lookup: KeyLookup, rules: VerifyRules): Promise<JWTPayload> {
  checkForm(token, rules)
  const encoded = token.slice(0, token.indexOf('.'))
  const memo = memoOf(rules.algorithms)
  const remembered = memo.get(encoded)
  const header = remembered ?? checkEncodedHeader(encoded, rules)
  let key: CryptoKey
  try {
    // A local key set answers at once: no await (and no extra turn) for it.
    const found = lookup(header)
    key = found instanceof Promise ? await found : found
  } catch (error) {
    if (error instanceof SessionError) throw error
    refuse(reasonOf(error), 'no key for this token', error)
  }
  let payload: JWTPayload
  try {
    const verified = await jwtVerify(token, key, {
      algorithms: [header.alg],
      issuer: rules.issuer as string | string[],
      audience: rules.audience as string | string[],
      ...(rules.typ === undefined ? {} : { typ: rules.typ }),
      clockTolerance: rules.clockToleranceSec,
      requiredClaims: [...rules.requiredClaims],
    })
    payload = verified.payload
  } catch (error) {
    const reason = reasonOf(error)
    refuse(reason, `token refused (${reason})`, error)
  }
  if (remembered === undefined) {
    if (memo.size >= MEMO_SIZE) memo.clear()
    memo.set(encoded, header)
  }
  return payload
}
