import { channel } from 'node:diagnostics_channel'
import type { Channel } from 'node:diagnostics_channel'
import { channelName, channelPrefix } from '@scalekit/internal'

/**
 * Every diagnostics channel of @scalekit/session is named `scalekit:session:<operation>`. Names and
 * payload types are public API. Payloads never carry a token, a session id, an API key secret or a
 * claim value: they carry what a metric or a log needs (kind, outcome, reason code). Publishing
 * costs nothing while nobody subscribes.
 */
export const CHANNEL_PREFIX: 'scalekit:session' = channelPrefix('session')

/** What a token is for: the `typ` it carries and the rules it is checked by. */
export type TokenKind = 'access' | 'refresh' | 'service'

/** Payload of `scalekit:session:issue`: tokens were signed. */
export interface IssueEvent {
  readonly kind: TokenKind
  /** The `kid` of the signing key (public: it is in every token's header). */
  readonly kid: string
}

/** Payload of `scalekit:session:verify`: one verification and its outcome. */
export interface VerifyEvent {
  readonly kind: TokenKind
  readonly outcome: 'valid' | 'refused'
  /** The error code when refused (`ERR_SESSION_INVALID_TOKEN`, `ERR_SESSION_REVOKED`). */
  readonly code?: string
  /** The reason of the refusal (`expired`, `signature`, `algorithm`…, or `token`/`family`/`user`). */
  readonly reason?: string
  /** True when the verified-token cache answered (no signature check). */
  readonly cached: boolean
}

/** Payload of `scalekit:session:refresh`: one refresh and how it ended. */
export interface RefreshEvent {
  /** `rotated`: a new pair; `grace`: a retry within the grace window got the same successor; `refused`. */
  readonly outcome: 'rotated' | 'grace' | 'refused'
  readonly code?: string
  readonly reason?: string
}

/** Payload of `scalekit:session:reuse`: a retired refresh token was presented; its family is revoked. */
export interface ReuseEvent {
  /** How long ago (ms) the presented token was retired. */
  readonly retiredForMs: number | undefined
}

/** Payload of `scalekit:session:revoke`: a revocation was made here (`local`) or arrived from another instance (`remote`). */
export interface RevokeEvent {
  readonly target: 'token' | 'family' | 'user'
  readonly source: 'local' | 'remote'
}

/** Payload of `scalekit:session:create`, `:regenerate` and `:destroy`: a server session changed (never its id). */
export interface SessionEvent {
  /** Whether the session belongs to a user (the user id itself is not published). */
  readonly authenticated: boolean
  /** `destroy` only: why — `logout`, `expired`, `user` (revoke all), `regenerate` (the old id). */
  readonly reason?: string
}

/** Payload of `scalekit:session:api-key`: one API key check (the key's public id is not published either). */
export interface ApiKeyEvent {
  readonly outcome: 'valid' | 'refused'
  readonly reason?: string
}

/** The channels of this package, created once per process. */
export const channels: {
  readonly issue: Channel
  readonly verify: Channel
  readonly refresh: Channel
  readonly reuse: Channel
  readonly revoke: Channel
  readonly create: Channel
  readonly regenerate: Channel
  readonly destroy: Channel
  readonly apiKey: Channel
} = {
  issue: channel(channelName('session', 'issue')),
  verify: channel(channelName('session', 'verify')),
  refresh: channel(channelName('session', 'refresh')),
  reuse: channel(channelName('session', 'reuse')),
  revoke: channel(channelName('session', 'revoke')),
  create: channel(channelName('session', 'create')),
  regenerate: channel(channelName('session', 'regenerate')),
  destroy: channel(channelName('session', 'destroy')),
  apiKey: channel(channelName('session', 'api-key')),
}

/** Publishes `payload` on `ch` only when someone listens (the payload is then built by `make`). */
export function publish(ch: Channel, make: () => object): void {
  if (ch.hasSubscribers) ch.publish(make())
}
