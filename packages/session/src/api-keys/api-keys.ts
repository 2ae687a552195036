import { RedisScript } from '@scalekit/internal'
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { CloseGate, createChecks, DeadlineSweep, describeValue } from '@scalekit/internal'
import type { Checks, CloseOptions, Duration } from '@scalekit/internal'
import { channels, publish } from '../channels'
import type { ApiKeyEvent } from '../channels'
import { SessionApiKeyError, SessionArgumentError, SessionClosedError, SessionOptionsError } from '../errors'
import type { ApiKeyReason } from '../errors'
import { callRedis } from '../internal/redis-calls'
import type { RedisClient } from '../redis'
import type { ApiKeyInfo, ApiKeys, ApiKeysHealth, IssuedApiKey } from './types'

/** Options of {@link createApiKeys}. */
export interface ApiKeysOptions {
  /** Keys in Redis (shared by every instance); else in memory (one process). @default memory */
  readonly redis?: RedisClient
  /** Prefix of the Redis keys. @default 'sk:session' */
  readonly prefix?: string
  /** Bound of every Redis call. @default '1s' */
  readonly timeout?: Duration
}

/** A key as stored: the SHA-256 of its secret, never the secret. */
interface StoredKey {
  readonly owner: string
  readonly scopes: readonly string[]
  readonly createdAt: number
  readonly expiresAt: number | undefined
  readonly secretHash: string
  readonly revoked: boolean
  readonly lastUsedAt: number | undefined
}

/** Keys look like `sk_<16 chars id>_<43 chars secret>`: the id is public, the secret 256 random bits. */
const FORMAT = /^sk_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$/
/** Last-used times are written at most this often per key. */
const TOUCH_EVERY_MS = 60_000

const optionChecks: Checks = createChecks(SessionOptionsError)
const args: Checks = createChecks(SessionArgumentError)

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest()

const getScript = new RedisScript(`return redis.call('GET', KEYS[1])`)
const setScript = new RedisScript(`redis.call('SET', KEYS[1], ARGV[1]) return 1`)
const touchScript = new RedisScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local k = cjson.decode(v)
k.lastUsedAt = tonumber(ARGV[1])
redis.call('SET', KEYS[1], cjson.encode(k), 'KEEPTTL')
return 1`)

interface KeyStore {
  get(id: string): Promise<StoredKey | undefined>
  put(id: string, key: StoredKey): Promise<void>
  touch(id: string, at: number): Promise<void>
}

function memoryKeys(): KeyStore {
  const keys = new Map<string, StoredKey>()
  return {
    get: (id) => Promise.resolve(keys.get(id)),
    put: (id, key) => {
      keys.set(id, key)
      return Promise.resolve()
    },
    touch: (id, at) => {
      const key = keys.get(id)
      if (key !== undefined) keys.set(id, { ...key, lastUsedAt: at })
      return Promise.resolve()
    },
  }
}

function redisKeys(redis: RedisClient, prefix: string, timeoutMs: number, sweep: DeadlineSweep): KeyStore {
  const name = (id: string): string => `${prefix}:apikey:{${id}}`
  const call = (what: string, script: RedisScript, id: string, argv: (string | number)[]): Promise<unknown> =>
    callRedis(sweep, timeoutMs, what, script.run(redis, [name(id)], argv))
  return {
    async get(id) {
      const text = await call('reading an API key', getScript, id, [])
      return typeof text === 'string' ? (JSON.parse(text) as StoredKey) : undefined
    },
    async put(id, key) {
      await call('writing an API key', setScript, id, [JSON.stringify(key)])
    },
    async touch(id, at) {
      await call('touching an API key', touchScript, id, [at])
    },
  }
}

class ApiKeyService implements ApiKeys {
  readonly #store: KeyStore
  readonly #kind: ApiKeysHealth['store']
  readonly #gate: CloseGate
  readonly #sweep = new DeadlineSweep()

  constructor(options: ApiKeysOptions) {
    const given: unknown = options
    if (typeof given !== 'object' || given === null)
      optionChecks.fail(`createApiKeys() takes an options object, got ${describeValue(given)}`)
    const prefix = options.prefix ?? 'sk:session'
    if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix))
      optionChecks.fail(`prefix must be a non-empty string without braces, got ${describeValue(prefix)}`)
    const timeoutMs = optionChecks.duration('timeout', options.timeout, '1s', { min: 1 })
    const redis: unknown = options.redis
    if (redis !== undefined && (typeof redis !== 'object' || redis === null || !('evalsha' in redis)))
      optionChecks.fail(`redis must be an ioredis Redis or Cluster client, got ${describeValue(redis)}`)
    this.#store =
      options.redis === undefined ? memoryKeys() : redisKeys(options.redis, prefix, timeoutMs, this.#sweep)
    this.#kind = options.redis === undefined ? 'memory' : 'redis'
    this.#gate = new CloseGate(SessionArgumentError, () => {
      this.#sweep.clear()
      return Promise.resolve()
    })
  }

  async issue(request: {
    owner: string
    scopes?: readonly string[]
    expiresIn?: Duration
  }): Promise<IssuedApiKey> {
    this.#open()
    const given: unknown = request
    if (typeof given !== 'object' || given === null) args.fail(`issue() takes { owner, scopes?, expiresIn? }`)
    const { owner, scopes = [] } = request
    if (typeof owner !== 'string' || owner === '') args.fail(`issue(): owner must be a non-empty string`)
    if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || s === ''))
      args.fail(`issue(): scopes must be a list of non-empty strings`)
    const expiresIn =
      request.expiresIn === undefined
        ? undefined
        : args.duration('issue(): expiresIn', request.expiresIn, 0, { min: 1 })
    return this.#mint(owner, scopes, expiresIn === undefined ? undefined : Date.now() + expiresIn)
  }

  async verify(key: string): Promise<ApiKeyInfo> {
    this.#open()
    // The secret's hash is compared in constant time, and the same work is done for an unknown id,
    // so neither the matching prefix of a secret nor the existence of an id shows in the timing.
    const match = typeof key === 'string' ? FORMAT.exec(key) : null
    if (match === null) return this.#refuse('malformed')
    const [, id = '', secret = ''] = match
    const stored = await this.#store.get(id)
    const expected =
      stored === undefined ? sha256(`unknown:${id}`) : Buffer.from(stored.secretHash, 'base64url')
    const matches = timingSafeEqual(expected, sha256(secret))
    if (stored === undefined) return this.#refuse('unknown')
    if (!matches) return this.#refuse('secret')
    if (stored.revoked) return this.#refuse('revoked')
    const now = Date.now()
    if (stored.expiresAt !== undefined && stored.expiresAt <= now) return this.#refuse('expired')
    if (stored.lastUsedAt === undefined || now - stored.lastUsedAt > TOUCH_EVERY_MS)
      await this.#store.touch(id, now).catch(() => undefined)
    publish(channels.apiKey, (): ApiKeyEvent => ({ outcome: 'valid' }))
    return this.#info(id, { ...stored, lastUsedAt: now })
  }

  async rotate(id: string, options: { overlap?: Duration } = {}): Promise<IssuedApiKey> {
    this.#open()
    const overlapMs = args.duration('rotate(): overlap', options.overlap, '1d')
    const stored = await this.#existing('rotate()', id)
    const until = Date.now() + overlapMs
    await this.#store.put(id, { ...stored, expiresAt: Math.min(stored.expiresAt ?? until, until) })
    return this.#mint(stored.owner, stored.scopes, stored.expiresAt)
  }

  async revoke(id: string): Promise<void> {
    this.#open()
    const stored = await this.#existing('revoke()', id)
    await this.#store.put(id, { ...stored, revoked: true })
  }

  health(): ApiKeysHealth {
    return { status: this.#gate.closed ? 'closed' : 'ok', store: this.#kind }
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  async #mint(
    owner: string,
    scopes: readonly string[],
    expiresAt: number | undefined,
  ): Promise<IssuedApiKey> {
    const id = randomBytes(12).toString('base64url').replace(/[-_]/g, 'x').slice(0, 16)
    const secret = randomBytes(32).toString('base64url')
    const stored: StoredKey = {
      owner,
      scopes: [...scopes],
      createdAt: Date.now(),
      expiresAt,
      secretHash: sha256(secret).toString('base64url'),
      revoked: false,
      lastUsedAt: undefined,
    }
    await this.#store.put(id, stored)
    return { key: `sk_${id}_${secret}`, info: this.#info(id, stored) }
  }

  async #existing(what: string, id: string): Promise<StoredKey> {
    if (typeof id !== 'string' || !/^[A-Za-z0-9]{16}$/.test(id))
      args.fail(`${what}: id must be a key id, got ${describeValue(id)}`)
    const stored = await this.#store.get(id)
    if (stored === undefined) args.fail(`${what}: no API key has the id ${describeValue(id)}`)
    return stored
  }

  #info(id: string, stored: StoredKey): ApiKeyInfo {
    const { owner, scopes, createdAt, expiresAt, lastUsedAt } = stored
    return { id, owner, scopes, createdAt, expiresAt, lastUsedAt }
  }

  #refuse(reason: ApiKeyReason): never {
    publish(channels.apiKey, (): ApiKeyEvent => ({ outcome: 'refused', reason }))
    throw new SessionApiKeyError(`API key refused (${reason})`, { reason })
  }

  #open(): void {
    if (this.#gate.closed) throw new SessionClosedError('the API key service is closed')
  }
}

/**
 * API keys for service-to-service calls: `sk_<id>_<secret>`, the secret stored only as a SHA-256
 * and compared in constant time; scopes, expiry, rotation with overlap, last-used time.
 *
 * ```ts
 * const apiKeys = createApiKeys({ redis })
 * const { key } = await apiKeys.issue({ owner: 'billing', scopes: ['invoices:read'] })
 * ```
 */
export function createApiKeys(options: ApiKeysOptions = {}): ApiKeys {
  return new ApiKeyService(options)
}
