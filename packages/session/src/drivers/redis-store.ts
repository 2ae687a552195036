import { createHash } from 'node:crypto'
import type { DeadlineSweep } from '@scalekit/internal'
import { callRedis, Script } from '../internal/redis-calls'
import type { RedisClient } from '../redis'
import type { SessionStore, StoredSession, StoredSessionInfo } from '../sessions/store'

/** Metadata fields of a session hash; data fields are `d:<name>`, so they never collide. */
const META = { user: '_u', created: '_c', seen: '_l', expires: '_e' } as const

const NOW_TTL = `local now = tonumber(ARGV[1])
local function ttl(e) return math.max(1, math.min(tonumber(ARGV[2]), tonumber(e) - now)) end`

/** KEYS: session. ARGV: now, idleMs, touch (0/1). The whole hash, or nil when missing or past its absolute timeout. */
const loadScript = new Script(`${NOW_TTL}
local h = redis.call('HGETALL', KEYS[1])
if #h == 0 then return nil end
local e
for i = 1, #h, 2 do if h[i] == '${META.expires}' then e = h[i + 1] end end
if not e or tonumber(e) <= now then redis.call('DEL', KEYS[1]) return nil end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], '${META.seen}', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl(e))
end
return h`)

/**
 * KEYS: session. ARGV: now, idleMs, n, then n name/value pairs to set, then names to delete. Only
 * an existing, live session is written (never brought back as a partial hash). 1 or 0.
 */
const updateScript = new Script(`${NOW_TTL}
local e = redis.call('HGET', KEYS[1], '${META.expires}')
if not e then return 0 end
if tonumber(e) <= now then redis.call('DEL', KEYS[1]) return 0 end
local n = tonumber(ARGV[3])
for i = 4, 3 + 2 * n, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 4 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
redis.call('HSET', KEYS[1], '${META.seen}', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl(e))
return 1`)

/** KEYS: session. ARGV: now, idleMs, then field/value pairs (metadata included). */
const createScript = new Script(`${NOW_TTL}
redis.call('DEL', KEYS[1])
local e
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  if ARGV[i] == '${META.expires}' then e = ARGV[i + 1] end
end
redis.call('PEXPIRE', KEYS[1], ttl(e))
return 1`)

/** KEYS: session. Deletes it; returns its user id (for the index) or false. */
const destroyScript = new Script(`
local u = redis.call('HGET', KEYS[1], '${META.user}')
redis.call('DEL', KEYS[1])
return u`)

/** KEYS: index. ARGV: now, key, expiresAt (0 = remove the key). Prunes the expired. */
const indexScript = new Script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if ARGV[3] == '0' then redis.call('ZREM', KEYS[1], ARGV[2])
else redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2]) redis.call('PEXPIREAT', KEYS[1], ARGV[3]) end
return 1`)

/** KEYS: index. ARGV: now. The live keys. */
const listScript = new Script(`
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)`)

/** KEYS: session. The metadata without touching it. */
const peekScript = new Script(
  `return redis.call('HMGET', KEYS[1], '${META.created}', '${META.seen}', '${META.expires}')`,
)

/** Options of {@link RedisSessionStore}. */
export interface RedisStoreConfig {
  readonly redis: RedisClient
  readonly prefix: string
  readonly timeoutMs: number
  readonly sweep: DeadlineSweep
}

/**
 * Sessions in Redis: one hash per session, `<prefix>:s:{<key>}`, with one field per data field
 * (field-level writes: concurrent updates of different fields never overwrite each other), and a
 * sorted set per user, `<prefix>:u:{<hash of the user id>}`. Each key carries its own hash tag, so
 * the store runs on Redis Cluster; each step on a session is one script on one key.
 */
export class RedisSessionStore implements SessionStore {
  readonly #c: RedisStoreConfig

  constructor(config: RedisStoreConfig) {
    this.#c = config
  }

  async create(key: string, session: StoredSession, idleMs: number): Promise<void> {
    const fields: (string | number)[] = [META.created, session.createdAt, META.seen, session.lastSeenAt]
    fields.push(META.expires, session.expiresAt)
    if (session.userId !== undefined) fields.push(META.user, session.userId)
    for (const [name, value] of Object.entries(session.data)) fields.push(`d:${name}`, value)
    await this.#call('creating a session', createScript, this.#session(key), [
      session.lastSeenAt,
      idleMs,
      ...fields,
    ])
    if (session.userId !== undefined)
      await this.#call('indexing a session', indexScript, this.#user(session.userId), [
        session.lastSeenAt,
        key,
        session.expiresAt,
      ])
  }

  async load(key: string, now: number, idleMs: number, touch: boolean): Promise<StoredSession | undefined> {
    const reply = await this.#call('loading a session', loadScript, this.#session(key), [
      now,
      idleMs,
      touch ? 1 : 0,
    ])
    if (!Array.isArray(reply)) return undefined
    const flat = reply as string[]
    const data: Record<string, string> = {}
    const meta: Record<string, string> = {}
    for (let i = 0; i < flat.length; i += 2) {
      const name = flat[i] as string
      if (name.startsWith('d:')) data[name.slice(2)] = flat[i + 1] as string
      else meta[name] = flat[i + 1] as string
    }
    return {
      userId: meta[META.user],
      createdAt: Number(meta[META.created]),
      lastSeenAt: Number(meta[META.seen]),
      expiresAt: Number(meta[META.expires]),
      data,
    }
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
    for (const [name, value] of entries) args.push(`d:${name}`, value)
    for (const name of unset) args.push(`d:${name}`)
    return (await this.#call('updating a session', updateScript, this.#session(key), args)) === 1
  }

  async destroy(key: string): Promise<void> {
    const userId = await this.#call('destroying a session', destroyScript, this.#session(key), [])
    if (typeof userId === 'string')
      await this.#call('unindexing a session', indexScript, this.#user(userId), [Date.now(), key, 0])
  }

  async list(userId: string, now: number): Promise<StoredSessionInfo[]> {
    const keys = (await this.#call('listing sessions', listScript, this.#user(userId), [now])) as string[]
    const metas = await Promise.all(
      keys.map(async (key) => ({
        key,
        meta: (await this.#call('reading a session', peekScript, this.#session(key), [])) as (
          string | null
        )[],
      })),
    )
    const infos: StoredSessionInfo[] = []
    for (const { key, meta } of metas) {
      const [created, seen, expires] = meta
      if (created === null || created === undefined || Number(expires) <= now) {
        // Gone (idle timeout, or destroyed while the index was not updated): drop it from the index.
        await this.#call('unindexing a session', indexScript, this.#user(userId), [now, key, 0])
        continue
      }
      infos.push({ key, createdAt: Number(created), lastSeenAt: Number(seen), expiresAt: Number(expires) })
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
    return `${this.#c.prefix}:s:{${key}}`
  }

  #user(userId: string): string {
    return `${this.#c.prefix}:u:{${createHash('sha256').update(userId).digest('base64url').slice(0, 22)}}`
  }

  #call(what: string, script: Script, key: string, args: readonly (string | number)[]): Promise<unknown> {
    const { redis, sweep, timeoutMs } = this.#c
    return callRedis(sweep, timeoutMs, what, script.run(redis, [key], args))
  }
}
