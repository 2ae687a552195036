import { randomBytes } from 'node:crypto'
import { CloseGate, createChecks, createWarner, DeadlineSweep, describeValue } from '@scalekit/internal'
import type { Checks, CloseOptions, Duration, Warner } from '@scalekit/internal'
import { channels, publish } from '../channels'
import type { SessionEvent } from '../channels'
import { MemorySessionStore } from '../drivers/memory-store'
import { RedisSessionStore } from '../drivers/redis-store'
import { sha256 } from '../internal/sha256'
import type { SessionRedisClient } from '../redis'
import {
  SessionArgumentError,
  SessionClosedError,
  SessionError,
  SessionOptionsError,
  SessionStoreError,
} from '../errors'
import type { JsonValue } from '../tokens/types'
import type { SessionStore, StoredSession } from './store'
import { sessionDefaults } from './types'
import type { SessionInfo, SessionRecord, Sessions, SessionsHealth, SessionsOptions } from './types'

export { sessionDefaults } from './types'
export type { SessionInfo, SessionRecord, Sessions, SessionsHealth, SessionsOptions } from './types'

const ID = /^[A-Za-z0-9_-]{43}$/
/** What the Redis store calls on a client. */
const REDIS_METHODS = ['evalsha', 'eval', 'call'] as const
const options$: Checks = createChecks(SessionOptionsError)
const args: Checks = createChecks(SessionArgumentError)

/** True when `value` is an object with a function under each name (a structural check of a given client or store). */
function hasMethods(value: unknown, names: readonly string[]): boolean {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return names.every((name) => typeof record[name] === 'function')
}

const hashId: (id: string) => string = sha256

function checkUser(what: string, userId: unknown): string {
  if (typeof userId !== 'string' || userId === '')
    args.fail(`${what}: userId must be a non-empty string, got ${describeValue(userId)}`)
  return userId
}

/**
 * The fields to set and to remove, each set value checked to be JSON (a store keeps values as JSON
 * keeps them).
 */
function changesOf(what: string, changes: unknown): { set: Record<string, JsonValue>; unset: string[] } {
  if (typeof changes !== 'object' || changes === null || Array.isArray(changes))
    args.fail(`${what} takes an object of fields, got ${describeValue(changes)}`)
  const set: Record<string, JsonValue> = {}
  const unset: string[] = []
  for (const [name, value] of Object.entries(changes)) {
    if (name === '') args.fail(`${what}: a field name must not be empty`)
    if (value === undefined) unset.push(name)
    else {
      let text: unknown
      try {
        text = JSON.stringify(value)
      } catch (error) {
        throw new SessionArgumentError(`${what}: field "${name}" is not JSON`, { cause: error })
      }
      if (typeof text !== 'string')
        args.fail(`${what}: field "${name}" is not JSON (${describeValue(value)})`)
      set[name] = value as JsonValue
    }
  }
  return { set, unset }
}

/**
 * A record as `load` and `create` hand it out, with where it came from: the store's key, and the
 * stored session (its data is the record's) that is the `base` of the record's later updates.
 */
class ServerSessionRecord implements SessionRecord {
  readonly id: string
  readonly userId: string | undefined
  readonly createdAt: number
  readonly lastSeenAt: number
  readonly expiresAt: number
  readonly data: Readonly<Record<string, JsonValue>>
  readonly #owner: Sessions
  readonly #key: string
  readonly #stored: StoredSession

  constructor(owner: Sessions, id: string, key: string, stored: StoredSession, lastSeenAt: number) {
    this.id = id
    this.userId = stored.userId
    this.createdAt = stored.createdAt
    this.lastSeenAt = lastSeenAt
    this.expiresAt = stored.expiresAt
    this.data = stored.data
    this.#owner = owner
    this.#key = key
    this.#stored = stored
  }

  /** The store key and stored session of a record `owner` handed out; undefined for anything else. */
  static originOf(owner: Sessions, record: unknown): { key: string; stored: StoredSession } | undefined {
    return typeof record === 'object' && record !== null && #key in record && record.#owner === owner
      ? { key: record.#key, stored: record.#stored }
      : undefined
  }
}

class ServerSessions implements Sessions {
  readonly #store: SessionStore
  readonly #kind: SessionsHealth['store']
  readonly #owned: boolean
  readonly #idleMs: number
  readonly #absoluteMs: number
  readonly #rolling: boolean
  readonly #warner: Warner
  readonly #gate: CloseGate
  #available = true

  constructor(options: SessionsOptions) {
    const given: unknown = options
    if (typeof given !== 'object' || given === null)
      options$.fail(`createSessions() takes an options object, got ${describeValue(given)}`)
    this.#idleMs = options$.duration('idleTimeout', options.idleTimeout, sessionDefaults.idleTimeout, {
      min: 1000,
    })
    this.#absoluteMs = options$.duration(
      'absoluteTimeout',
      options.absoluteTimeout,
      sessionDefaults.absoluteTimeout,
      {
        min: this.#idleMs,
      },
    )
    this.#rolling = options$.boolean('rolling', options.rolling, sessionDefaults.rolling)
    const timeoutMs = options$.duration('timeout', options.timeout, sessionDefaults.timeout, { min: 1 })
    const prefix = options.prefix ?? sessionDefaults.prefix
    if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix))
      options$.fail(`prefix must be a non-empty string without braces, got ${describeValue(prefix)}`)
    this.#warner = createWarner('session', options.logger)
    const store: unknown = options.store
    const redis: unknown = options.redis
    if (store !== undefined && redis !== undefined) options$.fail('give redis or store, not both')
    if (store !== undefined) {
      if (!hasMethods(store, ['create', 'load', 'update', 'destroy', 'list', 'destroyUser']))
        options$.fail(`store must be a SessionStore, got ${describeValue(store)}`)
      this.#store = store as SessionStore
      this.#kind = 'custom'
      this.#owned = false
    } else if (redis !== undefined) {
      if (!hasMethods(redis, REDIS_METHODS))
        options$.fail(`redis must be an ioredis Redis or Cluster client, got ${describeValue(redis)}`)
      const sweep = new DeadlineSweep()
      this.#store = new RedisSessionStore({ redis: redis as SessionRedisClient, prefix, timeoutMs, sweep })
      this.#kind = 'redis'
      this.#owned = true
    } else {
      this.#store = new MemorySessionStore()
      this.#kind = 'memory'
      this.#owned = true
    }
    this.#gate = new CloseGate(SessionArgumentError, async () => {
      if (!this.#owned) return
      await this.#store.close?.()
    })
  }

  async create(
    init: { userId?: string; data?: Readonly<Record<string, JsonValue>> } = {},
  ): Promise<SessionRecord> {
    this.#open()
    const given: unknown = init
    if (typeof given !== 'object' || given === null)
      args.fail(`create() takes { userId?, data? }, got ${describeValue(given)}`)
    const userId = init.userId === undefined ? undefined : checkUser('create()', init.userId)
    const { set } = changesOf('create(): data', init.data ?? {})
    const record = await this.#createRecord(userId, set)
    publish(channels.create, (): SessionEvent => ({ authenticated: userId !== undefined }))
    return record
  }

  async load(id: string): Promise<SessionRecord | undefined> {
    this.#open()
    if (typeof id !== 'string' || !ID.test(id)) return undefined
    const now = Date.now()
    const key = hashId(id)
    const stored = await this.#run(() => this.#store.load(key, now, this.#idleMs, this.#rolling))
    return stored === undefined
      ? undefined
      : new ServerSessionRecord(this, id, key, stored, this.#rolling ? now : stored.lastSeenAt)
  }

  async update(
    session: string | SessionRecord,
    changes: Readonly<Record<string, JsonValue | undefined>>,
  ): Promise<boolean> {
    this.#open()
    const { set, unset } = changesOf('update()', changes)
    const origin = ServerSessionRecord.originOf(this, session)
    const id: unknown = typeof session === 'string' ? session : (session as { id?: unknown } | null)?.id
    if (typeof id !== 'string' || !ID.test(id)) return false
    const key = origin?.key ?? hashId(id)
    return this.#run(() => this.#store.update(key, set, unset, Date.now(), this.#idleMs, origin?.stored))
  }

  async regenerate(id: string, options: { userId?: string } = {}): Promise<SessionRecord | undefined> {
    this.#open()
    const userId = options.userId === undefined ? undefined : checkUser('regenerate()', options.userId)
    if (typeof id !== 'string' || !ID.test(id)) return undefined
    const key = hashId(id)
    const old = await this.#run(() => this.#store.load(key, Date.now(), this.#idleMs, false))
    if (old === undefined) return undefined
    // The new session first, then the old one goes: a failure between leaves the old one working.
    const record = await this.#createRecord(userId ?? old.userId, old.data)
    await this.#run(() => this.#store.destroy(key))
    publish(channels.regenerate, (): SessionEvent => ({ authenticated: record.userId !== undefined }))
    return record
  }

  async destroy(id: string): Promise<void> {
    this.#open()
    if (typeof id !== 'string' || !ID.test(id)) return
    await this.#run(() => this.#store.destroy(hashId(id)))
    publish(channels.destroy, (): SessionEvent => ({ authenticated: false, reason: 'logout' }))
  }

  async list(userId: string): Promise<SessionInfo[]> {
    this.#open()
    checkUser('list()', userId)
    const infos = await this.#run(() => this.#store.list(userId, Date.now()))
    return infos.map(({ key, ...times }) => ({ handle: key, ...times }))
  }

  async revoke(userId: string, handle: string): Promise<boolean> {
    this.#open()
    checkUser('revoke()', userId)
    if (typeof handle !== 'string' || handle === '')
      args.fail(`revoke(): handle must be a string from list()`)
    const mine = (await this.#run(() => this.#store.list(userId, Date.now()))).some((i) => i.key === handle)
    if (!mine) return false
    await this.#run(() => this.#store.destroy(handle))
    publish(channels.destroy, (): SessionEvent => ({ authenticated: true, reason: 'user' }))
    return true
  }

  async revokeAll(userId: string, options: { except?: string } = {}): Promise<number> {
    this.#open()
    checkUser('revokeAll()', userId)
    const except = options.except === undefined ? undefined : hashId(options.except)
    const removed = await this.#run(() => this.#store.destroyUser(userId, Date.now(), except))
    if (removed > 0) publish(channels.destroy, (): SessionEvent => ({ authenticated: true, reason: 'user' }))
    return removed
  }

  handleOf(id: string): string {
    return hashId(id)
  }

  health(): SessionsHealth {
    const status = this.#gate.closed ? 'closed' : this.#available ? 'ok' : 'down'
    return { status, store: this.#kind, storeAvailable: this.#available }
  }

  async checkHealth(): Promise<SessionsHealth> {
    if (!this.#gate.closed) {
      await this.#run(() => this.#store.load(hashId('health'), Date.now(), this.#idleMs, false)).catch(
        () => undefined,
      )
    }
    return this.health()
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #createRecord(
    userId: string | undefined,
    data: Readonly<Record<string, JsonValue>>,
  ): Promise<SessionRecord> {
    const id = randomBytes(32).toString('base64url')
    const now = Date.now()
    const stored: StoredSession = {
      userId,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.#absoluteMs,
      data,
    }
    const key = hashId(id)
    await this.#run(() => this.#store.create(key, stored, this.#idleMs))
    // The record's data is its own: the caller's `data` may change after this.
    return new ServerSessionRecord(this, id, key, { ...stored, data: { ...data } }, now)
  }

  #open(): void {
    if (this.#gate.closed) throw new SessionClosedError('the session manager is closed')
  }

  /** Runs a store call: a failure becomes `ERR_SESSION_STORE_UNAVAILABLE` (503) and a rate-limited warning. */
  async #run<T>(call: () => Promise<T>): Promise<T> {
    try {
      const value = await call()
      if (!this.#available) {
        this.#available = true
        this.#warner.recover('store', 'session store answers again')
      }
      return value
    } catch (error) {
      this.#available = false
      const coded =
        error instanceof SessionError
          ? error
          : new SessionStoreError('the session store failed', { cause: error })
      this.#warner.warn(
        'store',
        { code: coded.code },
        'session store unavailable: server sessions fail closed (503)',
      )
      throw coded
    }
  }
}

/**
 * Creates server sessions: in Redis with `redis` (standalone or Cluster), in a store of your own
 * with `store`, else in memory (one process; for tests and a first run).
 *
 * ```ts
 * const sessions = createSessions({ redis, idleTimeout: '30m', absoluteTimeout: '12h' })
 * ```
 * @throws SessionOptionsError when an option is invalid.
 */
export function createSessions(options: SessionsOptions = {}): Sessions {
  return new ServerSessions(options)
}

/** A session store in memory, for the conformance suite or to pass as `store`. */
export function createMemoryStore(): SessionStore {
  return new MemorySessionStore()
}

/** Options of {@link createRedisStore}. */
export interface RedisStoreOptions {
  readonly redis: SessionRedisClient
  /** @default 'sk:session' */
  readonly prefix?: string
  /** @default '1s' */
  readonly timeout?: Duration
}

/** The Redis session store on its own (what `createSessions({ redis })` uses), e.g. for the conformance suite. */
export function createRedisStore(options: RedisStoreOptions): SessionStore {
  const given: unknown = options
  if (!hasMethods((given as { redis?: unknown } | null)?.redis, REDIS_METHODS))
    options$.fail('createRedisStore() needs { redis }: an ioredis Redis or Cluster client')
  const prefix = options.prefix ?? sessionDefaults.prefix
  if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix))
    options$.fail(`prefix must be a non-empty string without braces, got ${describeValue(prefix)}`)
  const timeoutMs = options$.duration('timeout', options.timeout, sessionDefaults.timeout, { min: 1 })
  return new RedisSessionStore({ redis: options.redis, prefix, timeoutMs, sweep: new DeadlineSweep() })
}
