import { RedisScript } from '@scalekit/internal'
import type { DeadlineSweep } from '@scalekit/internal'
import { SessionStoreError } from '../errors'
import { callRedis } from '../internal/redis-calls'
import { sha256 } from '../internal/sha256'
import type { SessionRedisClient } from '../redis'
import type { SessionStore, StoredSession, StoredSessionInfo } from '../sessions/store'
import type { JsonValue } from '../tokens/types'
import { formatData, formatSession, mergeData, parseData, parseSession, userOf } from './session-text'
import type { SessionText } from './session-text'

/**
 * KEYS: session. ARGV: the revision the writer read, the new text, its TTL (ms). Writes only if the
 * session is still at that revision: 1; 0 if it is gone; else the text it holds now, for the writer
 * to apply its change to and try again.
 */
const writeScript = new RedisScript(`
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if string.sub(raw, 1, #ARGV[1] + 1) ~= ARGV[1] .. '\\n' then return raw end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`)

/** KEYS: session. The stored text (or false) and its TTL, without touching it. */
const peekScript = new RedisScript(`return { redis.call('GET', KEYS[1]), redis.call('PTTL', KEYS[1]) }`)

/** KEYS: index. ARGV: now, key, expiresAt (0 = remove the key). Prunes the expired. */
const indexScript = new RedisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if ARGV[3] == '0' then redis.call('ZREM', KEYS[1], ARGV[2])
else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2]) redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1`)

/** KEYS: index. ARGV: now. The live keys. */
const listScript = new RedisScript(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)`)

/**
 * The last load or update: a load restarts the key's TTL at the idle timeout without rewriting the
 * text, so the TTL left tells when that was.
 */
function lastSeen(text: SessionText, ttlMs: number, now: number): number {
  return ttlMs > 0 ? Math.max(text.lastWrite, now - (text.idleMs - ttlMs)) : text.lastWrite
}

/** A session as this store hands it out, with the text it was read as: the `base` of a later update. */
class RedisStoredSession implements StoredSession {
  readonly userId: string | undefined
  readonly createdAt: number
  readonly lastSeenAt: number
  readonly expiresAt: number
  readonly data: Readonly<Record<string, JsonValue>>
  readonly #store: RedisSessionStore
  #text: SessionText

  constructor(store: RedisSessionStore, text: SessionText, data: Readonly<Record<string, JsonValue>>) {
    this.userId = userOf(text.user)
    this.createdAt = text.createdAt
    this.lastSeenAt = text.lastWrite
    this.expiresAt = text.expiresAt
    this.data = data
    this.#store = store
    this.#text = text
  }

  /** The text `session` was read as, or last written as, through `store`; undefined for any other object. */
  static textOf(store: RedisSessionStore, session: StoredSession | undefined): SessionText | undefined {
    return session !== undefined && #text in session && session.#store === store ? session.#text : undefined
  }

  /** Records that `text` was written from `session`, the base of the next update. */
  static wrote(session: StoredSession | undefined, text: SessionText): void {
    if (session !== undefined && #text in session) session.#text = text
  }
}

/** Options of {@link RedisSessionStore}. */
export interface RedisStoreConfig {
  readonly redis: SessionRedisClient
  readonly prefix: string
  readonly timeoutMs: number
  readonly sweep: DeadlineSweep
}

/**
 * Sessions in Redis: one string per session, `<prefix>:s3:{<key>}` (the layout: `session-text.ts`),
 * living as long as its idle timeout (the key's TTL), and a sorted set per user,
 * `<prefix>:u:{<hash of the user id>}`. A load is one plain `GETEX` (or `GET` without rolling
 * expiry) and one `JSON.parse` of the data; the absolute timeout is checked on the client. An update
 * writes the whole text with one script that compares the revision it was made from: the change is
 * applied on the client, field by field to the text as last read (no parse, no re-encoding of the
 * other fields), and when another write came first the script hands back the text as it is now, to
 * apply the change to again — so concurrent updates of different fields never overwrite each other,
 * and a session that is gone is never written back. Each key carries its own hash tag, so the store
 * runs on Redis Cluster. Needs Redis 6.2 or later (GETEX, GETDEL).
 */
export class RedisSessionStore implements SessionStore {
  readonly #c: RedisStoreConfig

  constructor(config: RedisStoreConfig) {
    this.#c = config
  }

  async create(key: string, session: StoredSession, idleMs: number): Promise<void> {
    // The key never outlives the absolute timeout.
    const ttl = Math.max(1, Math.min(idleMs, session.expiresAt - session.lastSeenAt))
    const text: SessionText = {
      revision: 1,
      createdAt: session.createdAt,
      expiresAt: session.expiresAt,
      lastWrite: session.lastSeenAt,
      idleMs,
      user: session.userId === undefined ? '' : JSON.stringify(session.userId),
      data: formatData(session.data),
    }
    await this.#command('creating a session', 'set', this.#session(key), formatSession(text), 'PX', ttl)
    if (session.userId !== undefined)
      await this.#script('indexing a session', indexScript, this.#user(session.userId), [
        session.lastSeenAt,
        key,
        session.expiresAt,
      ])
  }

  async load(key: string, now: number, idleMs: number, touch: boolean): Promise<StoredSession | undefined> {
    const raw = touch
      ? await this.#command('loading a session', 'getex', this.#session(key), 'PX', idleMs)
      : await this.#command('loading a session', 'get', this.#session(key))
    const text = parseSession(raw)
    const data = text === undefined ? undefined : parseData(text.data)
    if (text === undefined || data === undefined) return undefined
    if (text.expiresAt <= now) {
      // Past its absolute timeout: gone, and deleted, so that a cookie replayed after it cannot keep
      // the key alive through GETEX's renewed TTL.
      await this.#command('dropping a timed-out session', 'del', this.#session(key))
      return undefined
    }
    return new RedisStoredSession(this, text, data)
  }

  async update(
    key: string,
    set: Readonly<Record<string, JsonValue>>,
    unset: readonly string[],
    now: number,
    idleMs: number,
    base?: StoredSession,
  ): Promise<boolean> {
    const { timeoutMs } = this.#c
    const startedAt = Date.now()
    let text =
      RedisStoredSession.textOf(this, base) ??
      parseSession(await this.#command('reading a session', 'get', this.#session(key)))
    for (;;) {
      if (text === undefined) return false
      if (text.expiresAt <= now) {
        await this.#command('dropping a timed-out session', 'del', this.#session(key))
        return false
      }
      const next: SessionText = {
        ...text,
        revision: text.revision + 1,
        lastWrite: now,
        idleMs,
        data: mergeData(text.data, set, unset),
      }
      const ttl = Math.max(1, Math.min(idleMs, text.expiresAt - now))
      const reply = await this.#script('updating a session', writeScript, this.#session(key), [
        text.revision,
        formatSession(next),
        ttl,
      ])
      if (reply === 1) {
        RedisStoredSession.wrote(base, next)
        return true
      }
      if (reply === 0) return false
      // Another write came first: apply the change to the session as it is now, within the call's bound.
      if (Date.now() - startedAt > timeoutMs)
        throw new SessionStoreError(`a session kept changing under an update for ${timeoutMs} ms`)
      text = parseSession(reply)
    }
  }

  async destroy(key: string): Promise<void> {
    const text = parseSession(await this.#command('destroying a session', 'getdel', this.#session(key)))
    const userId = text === undefined ? undefined : userOf(text.user)
    if (userId !== undefined)
      await this.#script('unindexing a session', indexScript, this.#user(userId), [Date.now(), key, 0])
  }

  async list(userId: string, now: number): Promise<StoredSessionInfo[]> {
    const keys = (await this.#script('listing sessions', listScript, this.#user(userId), [now])) as string[]
    const peeked = await Promise.all(
      keys.map(async (key) => {
        const reply = await this.#script('reading a session', peekScript, this.#session(key), [])
        const [raw, ttl] = reply as [unknown, number]
        return { key, text: parseSession(raw), ttl }
      }),
    )
    const infos: StoredSessionInfo[] = []
    for (const { key, text, ttl } of peeked) {
      if (text === undefined || text.expiresAt <= now) {
        // Gone (idle timeout, or destroyed while the index was not updated): drop it from the index.
        await this.#script('unindexing a session', indexScript, this.#user(userId), [now, key, 0])
        continue
      }
      infos.push({
        key,
        createdAt: text.createdAt,
        lastSeenAt: lastSeen(text, ttl, now),
        expiresAt: text.expiresAt,
      })
    }
    return infos
  }

  async destroyUser(userId: string, now: number, exceptKey?: string): Promise<number> {
    const infos = await this.list(userId, now)
    const doomed = infos.filter((i) => i.key !== exceptKey)
    await Promise.all(doomed.map((i) => this.destroy(i.key)))
    return doomed.length
  }

  #session(key: string): string {
    return `${this.#c.prefix}:s3:{${key}}`
  }

  #user(userId: string): string {
    return `${this.#c.prefix}:u:{${sha256(userId).slice(0, 22)}}`
  }

  #script(
    what: string,
    script: RedisScript,
    key: string,
    args: readonly (string | number)[],
  ): Promise<unknown> {
    const { redis, sweep, timeoutMs } = this.#c
    return callRedis(sweep, timeoutMs, what, script.run(redis, [key], args))
  }

  #command(what: string, command: string, ...args: (string | number)[]): Promise<unknown> {
    const { redis, sweep, timeoutMs } = this.#c
    return callRedis(sweep, timeoutMs, what, redis.call(command, ...args))
  }
}
