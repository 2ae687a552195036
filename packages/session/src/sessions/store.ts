import type { JsonValue } from '../tokens/types'

/** A server session as a store holds it. */
export interface StoredSession {
  /** The user it belongs to, for the per-user index; undefined before login. */
  readonly userId: string | undefined
  /** ms since the epoch. */
  readonly createdAt: number
  /** ms since the epoch: the last load or update (what the idle timeout counts from). */
  readonly lastSeenAt: number
  /** The absolute timeout: ms since the epoch after which it is gone whatever its activity. */
  readonly expiresAt: number
  /**
   * Field name → value. A store keeps values as JSON keeps them, and what `load` returns is the
   * caller's own: changing it changes nothing stored.
   */
  readonly data: Readonly<Record<string, JsonValue>>
}

/** A user's session as the per-user index lists it: its key (a hash of the id, safe to show) and times. */
export interface StoredSessionInfo {
  readonly key: string
  readonly createdAt: number
  readonly lastSeenAt: number
  readonly expiresAt: number
}

/**
 * The contract of a session store (`@scalekit/session/conformance` checks an implementation).
 * Keys are SHA-256 hashes of session ids — a store never sees an id. Each method is one atomic step
 * on one session, and a session that timed out (idle: `lastSeenAt + idleMs`; absolute: `expiresAt`)
 * is never returned, updated or brought back.
 */
export interface SessionStore {
  /** Stores a new session under `key`, living `min(idleMs, expiresAt - now)`; indexes it under its user. */
  create(key: string, session: StoredSession, idleMs: number): Promise<void>
  /**
   * The session under `key`, or undefined if it is missing or timed out. With `touch`, its
   * `lastSeenAt` becomes `now` and its idle timeout restarts (rolling expiry).
   */
  load(key: string, now: number, idleMs: number, touch: boolean): Promise<StoredSession | undefined>
  /**
   * Sets and removes data fields of one session in one atomic step, leaving every other field as
   * it is, and restarts its idle timeout. False (and nothing written) if the session is gone.
   *
   * `base`, when given, is the session as the caller last had it: the object this store's `load`
   * returned for `key`, or one a store does not know (treat it as absent). It is only a hint: a store
   * may use what it knew of the session then to write without reading it first, but the fields set
   * or removed since, by anyone, must still be kept — the change applies to the session as it is now.
   */
  update(
    key: string,
    set: Readonly<Record<string, JsonValue>>,
    unset: readonly string[],
    now: number,
    idleMs: number,
    base?: StoredSession,
  ): Promise<boolean>
  /** Removes the session (and its index entry); a missing one is not an error. */
  destroy(key: string): Promise<void>
  /** The user's live sessions. */
  list(userId: string, now: number): Promise<StoredSessionInfo[]>
  /** Removes every session of the user but `exceptKey`; resolves to how many were removed. */
  destroyUser(userId: string, now: number, exceptKey?: string): Promise<number>
  /** Releases what the store created (never a client it was given). Optional. */
  close?(): Promise<void>
}
