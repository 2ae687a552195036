import type { CloseOptions, Duration, HealthSnapshot } from '@scalekit/internal'
import type { JWTPayload } from 'jose'
import type { KeySet } from './keys'

/** A JSON value a custom claim may hold. */
export type JsonValue =
  string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue }

/** Who a token pair is for. */
export interface TokenSubject {
  /** The user id: the `sub` of both tokens and the key of "log out everywhere". */
  readonly sub: string
  /** Roles the access token carries (`roles` claim), checked by the adapters' role checks. @default [] */
  readonly roles?: readonly string[]
  /** Extra claims of the access token; registered names (`iss`, `sub`, `exp`…) are refused. */
  readonly claims?: Readonly<Record<string, JsonValue>>
}

/** What `issue()` and `refresh()` return. */
export interface TokenPair {
  readonly accessToken: string
  readonly refreshToken: string
  readonly tokenType: 'Bearer'
  /** Seconds the access token lives (OAuth's `expires_in`). */
  readonly expiresIn: number
  /** Seconds the refresh token lives. */
  readonly refreshExpiresIn: number
}

/** The claims of a verified access token (typ `at+jwt`, RFC 9068). */
export interface AccessClaims extends JWTPayload {
  readonly iss: string
  readonly sub: string
  readonly exp: number
  /** Seconds since the epoch, with ms precision. */
  readonly iat: number
  readonly jti: string
  /** The refresh family (login) this token belongs to: revoking it ends the access tokens too. */
  readonly sid: string
  readonly roles: readonly string[]
}

/** The claims of a verified service token (typ `service+jwt`). */
export interface ServiceClaims extends JWTPayload {
  readonly iss: string
  /** The calling service. */
  readonly sub: string
  readonly exp: number
  readonly iat: number
  readonly jti: string
  /** What the caller may do, from the space-separated `scope` claim. */
  readonly scopes: readonly string[]
}

/** What `revoke()` takes: one token (by id, or the token itself), a whole login, or every token of a user. */
export type RevokeTarget =
  | {
      /** "Log out everywhere": every token of this user issued before now. */
      readonly sub: string
    }
  | {
      /**
       * An access or refresh token: an access token is revoked by its id; a refresh token ends its
       * whole family (the login), access tokens included. The token must verify (expired is fine).
       */
      readonly token: string
    }
  | {
      /** A token id (`jti`), revoked until `expiresAt`. */
      readonly jti: string
      /** When the token expires, ms since the epoch. @default now + the access token lifetime */
      readonly expiresAt?: number
    }

/** Options of `issueServiceToken()`. */
export interface ServiceTokenRequest {
  /** The calling service (`sub`). */
  readonly sub: string
  /** The called service (`aud`): the only one that accepts the token. */
  readonly audience: string
  /** What it may do there (`scope`). @default [] */
  readonly scopes?: readonly string[]
  /** @default the `serviceTokenTtl` option */
  readonly ttl?: Duration
}

/** The `health()` snapshot of {@link Tokens}. */
export interface TokensHealth extends HealthSnapshot {
  /** Where refresh families and revocations live (the `redis` and `store` options). */
  readonly store: 'redis' | 'memory' | 'stateless'
  /** True when nothing can be revoked and tokens live until they expire (`store` is `'stateless'`). */
  readonly stateless: boolean
  /** Redis revocation state: loaded once at least, and the push connection up. */
  readonly revocation: { readonly synced: boolean; readonly subscribed: boolean } | undefined
  readonly cachedTokens: number
}

/**
 * Signs and verifies tokens with one key set: access tokens (`at+jwt`), refresh tokens (`rt+jwt`,
 * rotated with reuse detection when Redis is given), service tokens (`service+jwt`).
 */
export interface Tokens extends AsyncDisposable {
  /** A new login: an access token and the first refresh token of a new family. */
  issue(subject: TokenSubject): Promise<TokenPair>
  /**
   * Verifies an access token: size, header, allow-listed algorithm, signature, `typ`, `iss`, `aud`,
   * `exp`, `nbf`, then revocation. Throws `SessionTokenError` (with `reason`) or `SessionRevokedError`.
   */
  verify(token: string): Promise<AccessClaims>
  /**
   * Exchanges a refresh token for a new pair and retires it. With Redis (or `store: 'memory'`): a retired token presented
   * again revokes its whole family, unless within `refreshGrace` of its rotation (then the same
   * successor comes back). `update` replaces the roles or claims the new access token carries.
   */
  refresh(refreshToken: string, update?: Omit<TokenSubject, 'sub'>): Promise<TokenPair>
  /**
   * Revokes a token, a login or every token of a user, on every instance within `revocationSync`.
   * Needs Redis, or `store: 'memory'` (then in this process only).
   */
  revoke(target: RevokeTarget): Promise<void>
  /** A short-lived token for calling another service (`aud` = that service). */
  issueServiceToken(request: ServiceTokenRequest): Promise<string>
  /** Verifies a service token meant for `audience` (this service's name). */
  verifyServiceToken(token: string, audience: string | readonly string[]): Promise<ServiceClaims>
  /** Replaces the key set (rotation): the new first key signs; removed keys stop verifying at once. */
  updateKeys(keys: KeySet): Promise<void>
  /** The public keys, to serve as `/.well-known/jwks.json` (symmetric keys are never listed). */
  publicKeys(): Promise<KeySet>
  health(): TokensHealth
  /** Like `health()`, after reloading the revocation state from Redis. */
  checkHealth(): Promise<TokensHealth>
  /** Stops the revocation sync and its connection; later calls reject with `ERR_SESSION_CLOSED`. */
  close(options?: CloseOptions): Promise<void>
}
