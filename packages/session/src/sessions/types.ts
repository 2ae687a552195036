import type { CloseOptions, Duration, HealthSnapshot, Logger } from '@scalekit/internal'
import type { SessionRedisClient } from '../redis'
import type { JsonValue } from '../tokens/types'
import type { SessionStore } from './store'

/** Options of `createSessions`. */
export interface SessionsOptions {
  /** An ioredis 5/6 client (`Redis` or `Cluster`) the app owns: sessions live in Redis. @default none */
  readonly redis?: SessionRedisClient
  /** Any {@link SessionStore} (one that passes `@scalekit/session/conformance`). @default memory, or Redis with `redis` */
  readonly store?: SessionStore
  /** A session unused this long is gone. @default '30m' */
  readonly idleTimeout?: Duration
  /** A session is gone this long after it was created (or regenerated), however active. @default '12h' */
  readonly absoluteTimeout?: Duration
  /** Each load restarts the idle timeout (an update always does). @default true */
  readonly rolling?: boolean
  /** Prefix of the Redis keys. @default 'sk:session' */
  readonly prefix?: string
  /** Bound of every Redis call; past it the call fails with `ERR_SESSION_STORE_UNAVAILABLE`. @default '1s' */
  readonly timeout?: Duration
  /** Where trouble is reported (pino's shape), rate-limited, never an id. @default process warnings */
  readonly logger?: Logger
}

/** Defaults of {@link SessionsOptions}. */
export const sessionDefaults: {
  readonly idleTimeout: '30m'
  readonly absoluteTimeout: '12h'
  readonly rolling: true
  readonly prefix: 'sk:session'
  readonly timeout: '1s'
} = { idleTimeout: '30m', absoluteTimeout: '12h', rolling: true, prefix: 'sk:session', timeout: '1s' }

/** A server session: its id (the cookie value — a secret), its user, times (ms since the epoch) and data. */
export interface SessionRecord {
  /** 256 random bits, base64url: the bearer secret. Stores only ever see its SHA-256. */
  readonly id: string
  readonly userId: string | undefined
  readonly createdAt: number
  readonly lastSeenAt: number
  /** The absolute timeout. */
  readonly expiresAt: number
  readonly data: Readonly<Record<string, JsonValue>>
}

/** A session in a user's list: `handle` (a hash of the id, safe to show and to pass to `revoke`) and times. */
export interface SessionInfo {
  readonly handle: string
  readonly createdAt: number
  readonly lastSeenAt: number
  readonly expiresAt: number
}

/** The `health()` snapshot of {@link Sessions}. */
export interface SessionsHealth extends HealthSnapshot {
  readonly store: 'memory' | 'redis' | 'custom'
  /** False after a store call failed, until one succeeds. */
  readonly storeAvailable: boolean
}

/** Server sessions: ids in cookies, data in a store, idle and absolute timeouts, a per-user index. */
export interface Sessions extends AsyncDisposable {
  /** A new session (a new id), for a visitor or a user. */
  create(init?: {
    readonly userId?: string
    readonly data?: Readonly<Record<string, JsonValue>>
  }): Promise<SessionRecord>
  /** The session of `id`, or undefined (unknown, malformed, timed out); restarts its idle timeout when rolling. */
  load(id: string): Promise<SessionRecord | undefined>
  /**
   * Sets (or, with `undefined`, removes) the given data fields in one atomic step, leaving every
   * other field as it is: concurrent updates of different fields are all kept. False if the session is gone.
   *
   * Give the record `load` or `create` returned rather than its id when you have it: the store can
   * then write without reading the session first (one round trip instead of two in Redis).
   */
  update(
    session: string | SessionRecord,
    changes: Readonly<Record<string, JsonValue | undefined>>,
  ): Promise<boolean>
  /**
   * Moves the session to a new id (on login and on any privilege change: session fixation), with its
   * data, optionally for `userId`; the old id stops working at once. Undefined if the session is gone.
   */
  regenerate(id: string, options?: { readonly userId?: string }): Promise<SessionRecord | undefined>
  /** Ends the session (logout). */
  destroy(id: string): Promise<void>
  /** The user's live sessions. */
  list(userId: string): Promise<SessionInfo[]>
  /** Ends one of the user's sessions by its handle (from `list`); false if it was not theirs or is gone. */
  revoke(userId: string, handle: string): Promise<boolean>
  /** Ends every session of the user ("log out everywhere"), but `except` (a session id, e.g. the current one). */
  revokeAll(userId: string, options?: { readonly except?: string }): Promise<number>
  /** The handle of a session id, as `list` shows it. */
  handleOf(id: string): string
  health(): SessionsHealth
  /** Loads a session that does not exist, to see whether the store answers. */
  checkHealth(): Promise<SessionsHealth>
  /** Later calls reject with `ERR_SESSION_CLOSED`; closes a store it created (never your Redis client). */
  close(options?: CloseOptions): Promise<void>
}
