import type { SessionStore, StoredSession, StoredSessionInfo } from '../sessions/store'
import type { JsonValue } from '../tokens/types'

interface Entry {
  userId: string | undefined
  readonly createdAt: number
  lastSeenAt: number
  readonly expiresAt: number
  idleUntil: number
  /** Field name → its JSON text: what a load hands out is a copy, as from Redis. */
  readonly data: Map<string, string>
}

/** Each field's JSON text; a field JSON cannot write (undefined) is left out, as JSON leaves it. */
function texts(
  data: Readonly<Record<string, JsonValue>>,
  into = new Map<string, string>(),
): Map<string, string> {
  for (const [name, value] of Object.entries(data)) {
    const text = JSON.stringify(value) as string | undefined
    if (text === undefined) into.delete(name)
    else into.set(name, text)
  }
  return into
}

/**
 * The in-process session store: the embedded default (one instance, no server) and what tests use.
 * It behaves like the Redis store — same timeouts, same field-level updates, same per-user index —
 * and passes the same conformance suite. Timed-out sessions are dropped when touched or listed, and
 * by a sweep when the store grows.
 */
export class MemorySessionStore implements SessionStore {
  readonly #sessions = new Map<string, Entry>()
  readonly #users = new Map<string, Set<string>>()
  #sweepAt = 1024

  create(key: string, session: StoredSession, idleMs: number): Promise<void> {
    const now = session.lastSeenAt
    this.#drop(key)
    this.#sessions.set(key, {
      userId: session.userId,
      createdAt: session.createdAt,
      lastSeenAt: now,
      expiresAt: session.expiresAt,
      idleUntil: now + idleMs,
      data: texts(session.data),
    })
    if (session.userId !== undefined) this.#index(session.userId).add(key)
    if (this.#sessions.size >= this.#sweepAt) this.#dropTimedOut(now)
    return Promise.resolve()
  }

  load(key: string, now: number, idleMs: number, touch: boolean): Promise<StoredSession | undefined> {
    const entry = this.#live(key, now)
    if (entry === undefined) return Promise.resolve(undefined)
    const snapshot: StoredSession = {
      userId: entry.userId,
      createdAt: entry.createdAt,
      lastSeenAt: entry.lastSeenAt,
      expiresAt: entry.expiresAt,
      data: Object.fromEntries([...entry.data].map(([name, text]) => [name, JSON.parse(text) as JsonValue])),
    }
    if (touch) {
      entry.lastSeenAt = now
      entry.idleUntil = now + idleMs
    }
    return Promise.resolve(snapshot)
  }

  update(
    key: string,
    set: Readonly<Record<string, JsonValue>>,
    unset: readonly string[],
    now: number,
    idleMs: number,
  ): Promise<boolean> {
    // Every update here is atomic already: `base` (a hint) is not needed.
    const entry = this.#live(key, now)
    if (entry === undefined) return Promise.resolve(false)
    texts(set, entry.data)
    for (const name of unset) entry.data.delete(name)
    entry.lastSeenAt = now
    entry.idleUntil = now + idleMs
    return Promise.resolve(true)
  }

  destroy(key: string): Promise<void> {
    this.#drop(key)
    return Promise.resolve()
  }

  list(userId: string, now: number): Promise<StoredSessionInfo[]> {
    const infos: StoredSessionInfo[] = []
    for (const key of this.#users.get(userId) ?? []) {
      const entry = this.#live(key, now)
      if (entry !== undefined)
        infos.push({
          key,
          createdAt: entry.createdAt,
          lastSeenAt: entry.lastSeenAt,
          expiresAt: entry.expiresAt,
        })
    }
    return Promise.resolve(infos)
  }

  destroyUser(userId: string, now: number, exceptKey?: string): Promise<number> {
    let removed = 0
    for (const key of [...(this.#users.get(userId) ?? [])]) {
      if (key === exceptKey) continue
      if (this.#live(key, now) !== undefined) removed += 1
      this.#drop(key)
    }
    return Promise.resolve(removed)
  }

  /** The entry if it has not timed out; a timed-out one is dropped. */
  #live(key: string, now: number): Entry | undefined {
    const entry = this.#sessions.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now || entry.idleUntil <= now) {
      this.#drop(key)
      return undefined
    }
    return entry
  }

  #index(userId: string): Set<string> {
    let keys = this.#users.get(userId)
    if (keys === undefined) {
      keys = new Set()
      this.#users.set(userId, keys)
    }
    return keys
  }

  #drop(key: string): void {
    const entry = this.#sessions.get(key)
    if (entry === undefined) return
    this.#sessions.delete(key)
    if (entry.userId === undefined) return
    const keys = this.#users.get(entry.userId)
    keys?.delete(key)
    if (keys?.size === 0) this.#users.delete(entry.userId)
  }

  #dropTimedOut(now: number): void {
    for (const key of [...this.#sessions.keys()]) this.#live(key, now)
    this.#sweepAt = Math.max(1024, this.#sessions.size * 2)
  }
}
