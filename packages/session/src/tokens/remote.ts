import { createChecks, describeValue } from '@scalekit/internal'
import type { Checks, Duration } from '@scalekit/internal'
import { createRemoteJWKSet, errors as joseErrors } from 'jose'
import type { JWTPayload } from 'jose'
import { SessionKeysUnavailableError, SessionOptionsError, SessionTokenError } from '../errors'
import { stringList } from './options'
import { verifyJwt } from './verify'
import type { VerifyRules } from './verify'

/** Options of {@link createRemoteVerifier}. */
export interface RemoteVerifierOptions {
  /** The issuer's JWKS endpoint (`https://…/.well-known/jwks.json`). */
  readonly jwksUrl: string | URL
  /** The accepted `iss`. */
  readonly issuer: string | readonly string[]
  /** The accepted `aud` (this API). */
  readonly audience: string | readonly string[]
  /** The algorithm allow-list (asymmetric only: a JWKS publishes public keys). */
  readonly algorithms: readonly string[]
  /** The `typ` tokens must carry (`at+jwt` for RFC 9068 access tokens). @default not checked */
  readonly typ?: string
  /** @default '10s' */
  readonly clockTolerance?: Duration
  /** @default 8192 */
  readonly maxTokenSize?: number
  /** Bound of one JWKS fetch (jose's `timeoutDuration`). @default '5s' */
  readonly timeout?: Duration
  /** Least time between two refetches for an unknown `kid` (jose's `cooldownDuration`). @default '30s' */
  readonly cooldown?: Duration
  /** How long a fetched key set is used before it is fetched again (jose's `cacheMaxAge`). @default '10m' */
  readonly cacheMaxAge?: Duration
}

/** Verifies third-party tokens against a remote JWKS, with the same checks as `createTokens`. */
export interface RemoteVerifier {
  /**
   * The token's claims; `SessionTokenError` when the token fails a check, or
   * `SessionKeysUnavailableError` (503, with `retryAfter`) when the JWKS could not be fetched.
   */
  verify(token: string): Promise<JWTPayload>
}

const checks: Checks = createChecks(SessionOptionsError)
const ASYMMETRIC = /^(EdDSA|Ed25519|ES(256|384|512)|RS(256|384|512)|PS(256|384|512))$/

/**
 * A verifier of tokens issued elsewhere (an identity provider), whose keys come from its JWKS
 * endpoint through jose's remote key set (fetch timeout, cooldown, cache). Header checks, size limit,
 * allow-list and claim checks are those of `createTokens`; `jku`/`x5u` are still never followed.
 *
 * ```ts
 * const idp = createRemoteVerifier({ jwksUrl: 'https://idp.example.com/.well-known/jwks.json', issuer: 'https://idp.example.com', audience: 'api', algorithms: ['RS256'] })
 * ```
 */
export function createRemoteVerifier(options: RemoteVerifierOptions): RemoteVerifier {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    checks.fail(`createRemoteVerifier() takes an options object, got ${describeValue(given)}`)
  let url: URL
  try {
    url = new URL(options.jwksUrl)
  } catch (error) {
    throw new SessionOptionsError(`jwksUrl must be a URL, got ${describeValue(options.jwksUrl)}`, {
      cause: error,
    })
  }
  const algorithms = stringList('algorithms', options.algorithms)
  for (const alg of algorithms) {
    if (!ASYMMETRIC.test(alg))
      checks.fail(`algorithms: ${describeValue(alg)} is not an asymmetric JWS algorithm`)
  }
  if (options.typ !== undefined && (typeof options.typ !== 'string' || options.typ === ''))
    checks.fail(`typ must be a non-empty string, got ${describeValue(options.typ)}`)
  const rules: VerifyRules = {
    algorithms,
    issuer: stringList('issuer', options.issuer),
    audience: stringList('audience', options.audience),
    typ: options.typ,
    clockToleranceSec:
      checks.duration('clockTolerance', options.clockTolerance, '10s', { max: 300_000 }) / 1000,
    maxTokenSize: checks.integer('maxTokenSize', options.maxTokenSize, 8192, { min: 256, max: 65_536 }),
    requiredClaims: ['exp'],
  }
  const timeoutMs = checks.duration('timeout', options.timeout, '5s', { min: 1 })
  // A failed fetch is retried by the next verify (jose keeps no failure): one fetch timeout is the hint.
  const retryAfter = Math.max(1, Math.ceil(timeoutMs / 1000))
  const jwks = createRemoteJWKSet(url, {
    timeoutDuration: timeoutMs,
    cooldownDuration: checks.duration('cooldown', options.cooldown, '30s'),
    cacheMaxAge: checks.duration('cacheMaxAge', options.cacheMaxAge, '10m'),
  })
  return {
    verify: (token) =>
      verifyJwt(
        token,
        async (header) => {
          try {
            return await jwks({ alg: header.alg, ...(header.kid === undefined ? {} : { kid: header.kid }) })
          } catch (error) {
            if (
              error instanceof joseErrors.JWKSNoMatchingKey ||
              error instanceof joseErrors.JWKSMultipleMatchingKeys
            )
              throw new SessionTokenError('no key of the remote set matches', {
                reason: 'unknown-key',
                cause: error,
              })
            throw new SessionKeysUnavailableError('the remote key set could not be fetched', {
              retryAfter,
              cause: error,
            })
          }
        },
        rules,
      ),
  }
}
