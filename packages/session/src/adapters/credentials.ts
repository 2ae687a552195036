import { createChecks, describeValue, isPromiseLike } from '@scalekit/internal'
import type { Checks } from '@scalekit/internal'
import type { ApiKeyInfo, ApiKeys } from '../api-keys/types'
import type { JWTPayload } from 'jose'
import {
  SessionForbiddenError,
  SessionOptionsError,
  SessionTokenError,
  SessionUnauthenticatedError,
} from '../errors'
import { TOKEN_TYPES } from '../tokens/claims'
import type { RemoteVerifier } from '../tokens/remote'
import { verifyNow } from '../tokens/verify-now'
import type { VerifiesNow } from '../tokens/verify-now'
import type { AccessClaims, ServiceClaims, Tokens } from '../tokens/types'

/** How a route accepts credentials: user access tokens, service tokens, API keys. */
export type Scheme = 'bearer' | 'service' | 'api-key'

/** Who a request authenticated as. */
export type Principal =
  | {
      readonly scheme: 'bearer'
      /** False: an access token of this app's `createTokens`. */
      readonly remote: false
      readonly sub: string
      readonly roles: readonly string[]
      readonly claims: AccessClaims
    }
  | {
      readonly scheme: 'bearer'
      /** True: a third party's token, checked by `createRemoteVerifier` against its JWKS. */
      readonly remote: true
      readonly sub: string
      /** The token's `roles` claim when it is a list of strings, else empty. */
      readonly roles: readonly string[]
      readonly claims: JWTPayload
    }
  | {
      readonly scheme: 'service'
      readonly sub: string
      readonly scopes: readonly string[]
      readonly claims: ServiceClaims
    }
  | {
      readonly scheme: 'api-key'
      /** The key's owner. */
      readonly sub: string
      readonly scopes: readonly string[]
      readonly key: ApiKeyInfo
    }

/** Options of the adapters' `authenticate`. */
export interface AuthenticateOptions {
  /**
   * Verifies `Authorization: Bearer` tokens: this app's access tokens (and service tokens with
   * `audience`) with `createTokens`, or a third party's with `createRemoteVerifier` (their `sub` is
   * required; a JWKS that cannot be fetched answers 503 with `Retry-After`).
   */
  readonly tokens?: Tokens | RemoteVerifier
  /** Verifies `Authorization: ApiKey <key>` or `X-Api-Key: <key>`. */
  readonly apiKeys?: ApiKeys
  /** The schemes this route accepts. @default `bearer` with `tokens`, `service` with `audience`, `api-key` with `apiKeys` */
  readonly schemes?: readonly Scheme[]
  /** This service's name: the `aud` service tokens must carry. */
  readonly audience?: string
  /** Roles an access token must all carry (403 otherwise). @default [] */
  readonly roles?: readonly string[]
  /** Scopes a service token or API key must all carry (403 otherwise). @default [] */
  readonly scopes?: readonly string[]
  /**
   * Keeps `currentAuth()` readable anywhere below the handler, through a request context
   * (AsyncLocalStorage) entered per request. `false` skips that context, and its cost on every
   * promise of the request, for routes that read `req.auth` / `request.auth` only. @default true
   */
  readonly context?: boolean
}

/** The checked options. */
export interface ResolvedAuthenticate {
  readonly tokens: Tokens | RemoteVerifier | undefined
  readonly apiKeys: ApiKeys | undefined
  readonly schemes: readonly Scheme[]
  readonly audience: string | undefined
  readonly roles: readonly string[]
  readonly scopes: readonly string[]
  readonly context: boolean
}

const checks: Checks = createChecks(SessionOptionsError)

function strings(name: string, value: unknown): readonly string[] {
  if (value === undefined) return []
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === ''))
    checks.fail(`authenticate(): ${name} must be a list of non-empty strings, got ${describeValue(value)}`)
  return value as string[]
}

/** A token service (`createTokens`) rather than a remote verifier: it can verify service tokens. */
function isTokens(tokens: Tokens | RemoteVerifier): tokens is Tokens {
  return typeof (tokens as Partial<Tokens>).verifyServiceToken === 'function'
}

/** Checks `authenticate()` options once, when the middleware or hook is made. */
export function resolveAuthenticate(options: AuthenticateOptions): ResolvedAuthenticate {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    checks.fail(`authenticate() takes { tokens, apiKeys, … }, got ${describeValue(given)}`)
  const { tokens, apiKeys, audience } = options
  const verifier: unknown = tokens
  if (
    tokens !== undefined &&
    (typeof verifier !== 'object' ||
      verifier === null ||
      typeof (verifier as { verify?: unknown }).verify !== 'function')
  )
    checks.fail(
      `authenticate(): tokens must come from createTokens or createRemoteVerifier, got ${describeValue(tokens)}`,
    )
  if (audience !== undefined && (typeof audience !== 'string' || audience === ''))
    checks.fail(`authenticate(): audience must be a non-empty string, got ${describeValue(audience)}`)
  const context: unknown = options.context ?? true
  if (typeof context !== 'boolean')
    checks.fail(`authenticate(): context must be true or false, got ${describeValue(context)}`)
  const fallback: Scheme[] = []
  if (tokens !== undefined) fallback.push('bearer')
  if (tokens !== undefined && isTokens(tokens) && audience !== undefined) fallback.push('service')
  if (apiKeys !== undefined) fallback.push('api-key')
  const named: readonly string[] =
    options.schemes === undefined ? fallback : strings('schemes', options.schemes)
  if (named.length === 0) checks.fail('authenticate() needs tokens or apiKeys (or schemes for them)')
  for (const scheme of named) {
    if (scheme !== 'bearer' && scheme !== 'service' && scheme !== 'api-key')
      checks.fail(`authenticate(): unknown scheme ${describeValue(scheme)}`)
    if ((scheme === 'bearer' || scheme === 'service') && tokens === undefined)
      checks.fail(`authenticate(): scheme '${scheme}' needs tokens`)
    if (scheme === 'service' && tokens !== undefined && !isTokens(tokens))
      checks.fail(`authenticate(): scheme 'service' needs tokens from createTokens, not a remote verifier`)
    if (scheme === 'service' && audience === undefined)
      checks.fail(`authenticate(): scheme 'service' needs audience (this service's name)`)
    if (scheme === 'api-key' && apiKeys === undefined)
      checks.fail(`authenticate(): scheme 'api-key' needs apiKeys`)
  }
  return {
    tokens,
    apiKeys,
    schemes: named as Scheme[],
    audience,
    roles: strings('roles', options.roles),
    scopes: strings('scopes', options.scopes),
    context,
  }
}

/** The headers a credential may come in; never the URL. */
export interface CredentialHeaders {
  readonly authorization?: string | undefined
  readonly 'x-api-key'?: string | string[] | undefined
}

function typOf(token: string): string | undefined {
  try {
    const header = JSON.parse(
      Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'),
    ) as unknown
    const typ = (header as { typ?: unknown } | null)?.typ
    return typeof typ === 'string' ? typ.toLowerCase() : undefined
  } catch {
    return undefined
  }
}

/**
 * Authenticates a request from its headers alone (tokens in query strings or bodies are never
 * read), then checks roles and scopes; hands the principal to `pass`, or the package's coded error
 * (401, 403, 503) to `fail`. A principal known at once (this app's access token, already verified
 * and cached) is handed on in the same tick, without a promise; anything else after its promise.
 */
export function authenticateRequest(
  headers: CredentialHeaders,
  config: ResolvedAuthenticate,
  pass: (principal: Principal) => void,
  fail: (error: unknown) => void,
): void {
  let principal: Principal | Promise<Principal>
  try {
    principal = identify(headers, config)
  } catch (error) {
    fail(error)
    return
  }
  if (isPromiseLike(principal))
    principal.then((known) => {
      grant(known, config, pass, fail)
    }, fail)
  else grant(principal, config, pass, fail)
}

/** Hands on a principal that has the route's roles or scopes; `pass` runs outside the try: what it throws is not a refusal. */
function grant(
  principal: Principal,
  config: ResolvedAuthenticate,
  pass: (principal: Principal) => void,
  fail: (error: unknown) => void,
): void {
  try {
    checkGrants(principal, config)
  } catch (error) {
    fail(error)
    return
  }
  pass(principal)
}

/** Refuses (403) a principal without every role (access tokens) or scope (service tokens, API keys) of the route. */
function checkGrants(principal: Principal, config: ResolvedAuthenticate): void {
  const missing =
    principal.scheme === 'bearer'
      ? config.roles.filter((r) => !principal.roles.includes(r))
      : config.scopes.filter((s) => !principal.scopes.includes(s))
  if (principal.scheme === 'bearer' && missing.length > 0)
    throw new SessionForbiddenError(`missing role(s): ${missing.join(', ')}`, { reason: 'role' })
  if (principal.scheme !== 'bearer' && missing.length > 0)
    throw new SessionForbiddenError(`missing scope(s): ${missing.join(', ')}`, { reason: 'scope' })
}

/**
 * The principal of the request's credential: at once for this app's cached access token (see
 * `verifyNow`), else the verifiers' promise (no async layer of its own). Throws or rejects.
 */
function identify(headers: CredentialHeaders, config: ResolvedAuthenticate): Principal | Promise<Principal> {
  const authorization = typeof headers.authorization === 'string' ? headers.authorization : ''
  const space = authorization.indexOf(' ')
  const kind = space > 0 ? authorization.slice(0, space).toLowerCase() : ''
  const credential = space > 0 ? authorization.slice(space + 1).trim() : ''
  const apiKeyHeader = headers['x-api-key']
  const { tokens, apiKeys, schemes, audience } = config
  if (kind === 'bearer' && tokens !== undefined && credential !== '') {
    const asService =
      schemes.includes('service') &&
      (typOf(credential) === TOKEN_TYPES.service || !schemes.includes('bearer'))
    if (!isTokens(tokens)) {
      if (schemes.includes('bearer')) return tokens.verify(credential).then(remotePrincipal)
    } else if (asService && audience !== undefined) {
      return tokens
        .verifyServiceToken(credential, audience)
        .then((claims) => ({ scheme: 'service', sub: claims.sub, scopes: claims.scopes, claims }))
    } else if (schemes.includes('bearer')) {
      // Any object with verify() is accepted; ours answer without a promise when they can.
      const claims =
        verifyNow in tokens
          ? (tokens as Tokens & VerifiesNow)[verifyNow](credential)
          : tokens.verify(credential)
      return isPromiseLike(claims) ? Promise.resolve(claims).then(bearerPrincipal) : bearerPrincipal(claims)
    }
  }
  const key = kind === 'apikey' ? credential : typeof apiKeyHeader === 'string' ? apiKeyHeader.trim() : ''
  if (key !== '' && apiKeys !== undefined && schemes.includes('api-key')) {
    return apiKeys
      .verify(key)
      .then((info) => ({ scheme: 'api-key', sub: info.owner, scopes: info.scopes, key: info }))
  }
  return Promise.reject(
    new SessionUnauthenticatedError(`no credentials for this route (${schemes.join(', ')})`),
  )
}

/** The principal of this app's access token. */
function bearerPrincipal(claims: AccessClaims): Principal {
  return { scheme: 'bearer', remote: false, sub: claims.sub, roles: claims.roles, claims }
}

/** The principal of a third party's token: it must name its subject. */
function remotePrincipal(claims: JWTPayload): Principal {
  if (typeof claims.sub !== 'string' || claims.sub === '')
    throw new SessionTokenError('the token has no sub', { reason: 'claims' })
  const roles = claims['roles']
  return {
    scheme: 'bearer',
    remote: true,
    sub: claims.sub,
    roles: Array.isArray(roles) && roles.every((r) => typeof r === 'string') ? roles : [],
    claims,
  }
}
