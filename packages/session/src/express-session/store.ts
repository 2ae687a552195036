import { RedisScript } from '@scalekit/internal'
import type { Request } from 'express'
import { createChecks, DeadlineSweep, describeValue } from '@scalekit/internal'
import type { Checks, Duration } from '@scalekit/internal'
import session from 'express-session'
import type { SessionData, Store } from 'express-session'
import { SessionOptionsError } from '../errors'
import { callRedis } from '../internal/redis-calls'
import type { RedisClient } from '../redis'

/** Options of {@link createSessionStore}. */
export interface SessionStoreOptions {
  /** An ioredis 5/6 client (`Redis` or `Cluster`) the app owns; never closed by the store. */
  readonly redis: RedisClient
  /** Prefix of the keys: one hash per session, `<prefix>{<sid>}`. @default 'sess:' */
  readonly prefix?: string
  /** Lifetime of a session whose cookie has no `maxAge`/`expires`. @default '1d' */
  readonly ttl?: Duration
  /** Bound of every Redis call (the callback then gets `ERR_SESSION_STORE_UNAVAILABLE`). @default '1s' */
  readonly timeout?: Duration
}

/** KEYS: session. ARGV: ttlMs, n, n name/value pairs, then names to delete. */
const writeScript = new RedisScript(`
local n = tonumber(ARGV[2])
for i = 3, 2 + 2 * n, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
for i = 3 + 2 * n, #ARGV do redis.call('HDEL', KEYS[1], ARGV[i]) end
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 1`)
const readScript = new RedisScript(`return redis.call('HGETALL', KEYS[1])`)
const touchScript = new RedisScript(`return redis.call('PEXPIRE', KEYS[1], ARGV[1])`)
const deleteScript = new RedisScript(`return redis.call('DEL', KEYS[1])`)

const checks: Checks = createChecks(SessionOptionsError)

type Callback = (error?: unknown) => void
type Fields = Record<string, string>

/** Each top-level field of a session as JSON text (the cookie included). */
function fieldsOf(sess: SessionData): Fields {
  const fields: Fields = {}
  for (const [name, value] of Object.entries(sess)) {
    const text = JSON.stringify(value) as string | undefined
    if (text !== undefined) fields[name] = text
  }
  return fields
}

/**
 * An express-session `Store` backed by ioredis, that keeps concurrent updates: each session is a
 * hash with one field per top-level property, and a save writes only the properties this request
 * changed (compared with what it loaded) — so two requests that change different properties both
 * keep their change, where a whole-object store keeps the last save only.
 */
class FieldLevelStore extends session.Store {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly #ttlMs: number
  readonly #timeoutMs: number
  readonly #sweep = new DeadlineSweep()
  /** What each request loaded, by its session object: the base of its diff. */
  readonly #loaded = new WeakMap<object, Fields>()

  constructor(options: SessionStoreOptions) {
    super()
    const given: unknown = options
    const redis = (given as { redis?: unknown } | null)?.redis
    if (typeof redis !== 'object' || redis === null || !('evalsha' in redis))
      checks.fail(`createSessionStore() needs { redis }: an ioredis client, got ${describeValue(redis)}`)
    const prefix = options.prefix ?? 'sess:'
    if (typeof prefix !== 'string' || /[{}]/.test(prefix))
      checks.fail(`prefix must be a string without braces`)
    this.#redis = options.redis
    this.#prefix = prefix
    this.#ttlMs = checks.duration('ttl', options.ttl, '1d', { min: 1000 })
    this.#timeoutMs = checks.duration('timeout', options.timeout, '1s', { min: 1 })
  }

  override createSession(req: Request, sess: SessionData): session.Session & SessionData {
    const created = super.createSession(req, sess)
    this.#loaded.set(created, fieldsOf(sess))
    return created
  }

  override get(sid: string, callback: (error: unknown, session?: SessionData | null) => void): void {
    this.#run('loading a session', readScript, sid, []).then((reply) => {
      const flat = reply as string[]
      if (flat.length === 0) {
        callback(null, null)
        return
      }
      const sess: Record<string, unknown> = {}
      for (let i = 0; i < flat.length; i += 2) sess[flat[i] as string] = JSON.parse(flat[i + 1] as string)
      callback(null, sess as unknown as SessionData)
    }, callback)
  }

  override set(sid: string, sess: SessionData, callback?: Callback): void {
    const current = fieldsOf(sess)
    const base = this.#loaded.get(sess) ?? {}
    const changed = Object.entries(current).filter(([name, text]) => base[name] !== text)
    const removed = Object.keys(base).filter((name) => !(name in current))
    const args: (string | number)[] = [this.#ttlOf(sess), changed.length]
    for (const [name, text] of changed) args.push(name, text)
    args.push(...removed)
    this.#run('saving a session', writeScript, sid, args).then(
      () => {
        // The next save of this object diffs against what is now stored.
        this.#loaded.set(sess, current)
        callback?.()
      },
      (error: unknown) => callback?.(error),
    )
  }

  override touch(sid: string, sess: SessionData, callback?: () => void): void {
    this.#run('touching a session', touchScript, sid, [this.#ttlOf(sess)]).then(
      () => callback?.(),
      // express-session's types say touch's callback takes nothing; it passes errors on like the others.
      (error: unknown) => {
        const report: Callback | undefined = callback
        report?.(error)
      },
    )
  }

  override destroy(sid: string, callback?: Callback): void {
    this.#run('destroying a session', deleteScript, sid, []).then(
      () => callback?.(),
      (error: unknown) => callback?.(error),
    )
  }

  #ttlOf(sess: SessionData): number {
    const cookie = sess.cookie as { expires?: Date | string | null; maxAge?: number | null } | undefined
    const expires = cookie?.expires
    if (expires !== undefined && expires !== null)
      return Math.max(1000, new Date(expires).getTime() - Date.now())
    return this.#ttlMs
  }

  #run(what: string, script: RedisScript, sid: string, args: (string | number)[]): Promise<unknown> {
    return callRedis(
      this.#sweep,
      this.#timeoutMs,
      what,
      script.run(this.#redis, [`${this.#prefix}{${sid}}`], args),
    )
  }
}

/**
 * An express-session store on ioredis (5 or 6, standalone or Cluster) — the one-line switch:
 *
 * ```ts
 * app.use(expressSession({ store: createSessionStore({ redis }), secret, resave: false, saveUninitialized: false }))
 * ```
 * Saves are field-level: concurrent requests that change different properties all keep them.
 */
export function createSessionStore(options: SessionStoreOptions): Store {
  return new FieldLevelStore(options)
}
