import { RedisScript } from '@scalekit/internal'
import { createHash } from 'node:crypto'
import type { DeadlineSweep } from '@scalekit/internal'
import { callRedis } from '../internal/redis-calls'
import type { SessionRedisClient } from '../redis'
import type { SessionStore, StoredSession, StoredSessionInfo } from '../sessions/store'

/**
 * A session as stored: one JSON object per key. `d` maps each data field to its own JSON text, so the
 * update script decodes and re-encodes a flat map of strings only and never re-encodes user data
 * (Lua's cjson would turn `[]` into `{}` and round numbers). `l` is the last write, `i` the idle
 * timeout the key's TTL was last set with (with the TTL, the last load: see {@link lastSeen}).
 */
interface Doc {
  readonly c: number
  readonly e: number
  readonly l: number
  readonly i: number
  readonly u?: string
  readonly d: Record<string, string>
}

/**
 * KEYS: session. ARGV: now, idleMs, n, then n name/value pairs to set, then names to delete. Only a
 * live session is written (a missing or timed-out one is never brought back). 1 or 0.
 */
const updateScript = new RedisScript(`
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local s = cjson.decode(raw)
local now = tonumber(ARGV[1])
if s.e <= now then redis.call('DEL', KEYS[1]) return 0 end
local d = s.d
local n = tonumber(ARGV[3])
for i = 4, 3 + 2 * n, 2 do d[ARGV[i]] = ARGV[i + 1] end
for i = 4 + 2 * n, #ARGV do d[ARGV[i]] = nil end
s.l = now
s.i = tonumber(ARGV[2])
redis.call('SET', KEYS[1], cjson.encode(s), 'PX', math.max(1, math.min(s.i, s.e - now)))
return 1`)

/** KEYS: session. The stored JSON (or false) and its TTL, without touching it. */
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

/** The stored document, or undefined if `raw` is not one (another writer's key: reads as missing). */
function parse(raw: unknown): Doc | undefined {
  if (typeof raw !== 'string') return undefined
  try {
    const doc = JSON.parse(raw) as { readonly e?: unknown; readonly d?: unknown } | null
    return typeof doc?.e === 'number' && typeof doc.d === 'object' && doc.d !== null
      ? (doc as Doc)
      : undefined
  } catch {
    return undefined
  }
}

/**
 * The last load or update: a load restarts the key's TTL at the idle timeout without rewriting the
 * document, so the TTL left tells when that was.
 */
function lastSeen(doc: Doc, ttlMs: number, now: number): number {
  return ttlMs > 0 ? Math.max(doc.l, now - (doc.i - ttlMs)) : doc.l
}

/** Options of {@link RedisSessionStore}. */
export interface RedisStoreConfig {
  readonly redis: SessionRedisClient
  readonly prefix: string
  readonly timeoutMs: number
  readonly sweep: DeadlineSweep
}

/**
 * Sessions in Redis: one JSON string per session, `<prefix>:s2:{<key>}`, living as long as its idle
 * timeout (the key's TTL), and a sorted set per user, `<prefix>:u:{<hash of the user id>}`. A load is
 * one plain `GETEX` (or `GET` without rolling expiry) and the absolute timeout is checked on the
 * client; an update is one script that merges the changed fields into the stored document, so
 * concurrent updates of different fields never overwrite each other, and never writes back a session
 * that is gone. Each key carries its own hash tag, so the store runs on Redis Cluster. Needs Redis 6.2
 * or later (GETEX, GETDEL).
 */
export class RedisSessionStore implements SessionStore {
  readonly #c: RedisStoreConfig

  constructor(config: RedisStoreConfig) {
    this.#c = config
  }

  async create(key: string, session: StoredSession, idleMs: number): Promise<void> {
    // The key never outlives the absolute timeout.
    const ttl = Math.max(1, Math.min(idleMs, session.expiresAt - session.lastSeenAt))
    const doc: Doc = {
      c: session.createdAt,
      e: session.expiresAt,
      l: session.lastSeenAt,
      i: idleMs,
      ...(session.userId === undefined ? {} : { u: session.userId }),
      d: session.data,
    }
    await this.#command('creating a session', 'set', this.#session(key), JSON.stringify(doc), 'PX', ttl)
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
    const doc = parse(raw)
    if (doc === undefined) return undefined
    if (doc.e <= now) {
      // Past its absolute timeout: gone, and deleted, so that a cookie replayed after it cannot keep
      // the key alive through GETEX's renewed TTL.
      await this.#command('dropping a timed-out session', 'del', this.#session(key))
      return undefined
    }
    return { userId: doc.u, createdAt: doc.c, lastSeenAt: doc.l, expiresAt: doc.e, data: doc.d }
  }

  async update(
    key: string,
    set: Readonly<Record<string, string>>,
    unset: readonly string[],
    now: number,
    idleMs: number,
  ): Promise<boolean> {
    const entries = Object.entries(set)
    const args: (string | number)[] = [now, idleMs, entries.length]
    for (const [name, value] of entries) args.push(name, value)
    args.push(...unset)
    return (await this.#script('updating a session', updateScript, this.#session(key), args)) === 1
  }

  async destroy(key: string): Promise<void> {
    const doc = parse(await this.#command('destroying a session', 'getdel', this.#session(key)))
    if (doc?.u !== undefined)
      await this.#script('unindexing a session', indexScript, this.#user(doc.u), [Date.now(), key, 0])
  }

  async list(userId: string, now: number): Promise<StoredSessionInfo[]> {
    const keys = (await this.#script('listing sessions', listScript, this.#user(userId), [now])) as string[]
    const peeked = await Promise.all(
      keys.map(async (key) => {
        const reply = await this.#script('reading a session', peekScript, this.#session(key), [])
        const [raw, ttl] = reply as [unknown, number]
        return { key, doc: parse(raw), ttl }
      }),
    )
    const infos: StoredSessionInfo[] = []
    for (const { key, doc, ttl } of peeked) {
      if (doc === undefined || doc.e <= now) {
        // Gone (idle timeout, or destroyed while the index was not updated): drop it from the index.
        await this.#script('unindexing a session', indexScript, this.#user(userId), [now, key, 0])
        continue
      }
      infos.push({ key, createdAt: doc.c, lastSeenAt: lastSeen(doc, ttl, now), expiresAt: doc.e })
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
    return `${this.#c.prefix}:s2:{${key}}`
  }

  #user(userId: string): string {
    return `${this.#c.prefix}:u:{${createHash('sha256').update(userId).digest('base64url').slice(0, 22)}}`
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
