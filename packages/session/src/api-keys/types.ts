import type { CloseOptions, Duration, HealthSnapshot } from '@scalekit/internal'

/** What an API key grants, as stored (never its secret). */
export interface ApiKeyInfo {
  /** The public part of the key (`sk_<id>_…`): safe to log and show. */
  readonly id: string
  /** Who the key belongs to (a service, a customer). */
  readonly owner: string
  readonly scopes: readonly string[]
  /** ms since the epoch. */
  readonly createdAt: number
  /** ms since the epoch; undefined: it does not expire. */
  readonly expiresAt: number | undefined
  /** ms since the epoch of the last successful verification (updated at most once a minute). */
  readonly lastUsedAt: number | undefined
}

/** What `issue()` and `rotate()` return: the full key, shown once. */
export interface IssuedApiKey {
  /** `sk_<id>_<secret>`: give it to the client; it is never stored. */
  readonly key: string
  readonly info: ApiKeyInfo
}

/** The `health()` snapshot of {@link ApiKeys}. */
export interface ApiKeysHealth extends HealthSnapshot {
  readonly store: 'memory' | 'redis'
}

/**
 * API keys between services (or for customers): a public id and a secret that is stored only as a
 * hash and compared in constant time; scopes, expiry, rotation with overlap, last-used time.
 */
export interface ApiKeys extends AsyncDisposable {
  issue(request: {
    readonly owner: string
    readonly scopes?: readonly string[]
    /** @default never expires */
    readonly expiresIn?: Duration
  }): Promise<IssuedApiKey>
  /** The key's grant, or `SessionApiKeyError` with reason `malformed`, `unknown`, `secret`, `expired`, `revoked`. */
  verify(key: string): Promise<ApiKeyInfo>
  /** A new key with the same owner and scopes; the old one keeps working for `overlap`, then expires. */
  rotate(id: string, options?: { readonly overlap?: Duration }): Promise<IssuedApiKey>
  /** The key stops working at once. */
  revoke(id: string): Promise<void>
  health(): ApiKeysHealth
  close(options?: CloseOptions): Promise<void>
}
