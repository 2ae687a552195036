/**
 * The Redis client scalekit packages take from an app, declared by what the packages call on it
 * rather than imported from ioredis: an ioredis 5 or 6 `Redis` or `Cluster` fits (whichever copy
 * the app installed), no published package's types name ioredis, and a client whose replies the
 * packages could not read is refused by the compiler (ioredis 6's `replyMapping: 'resp3'` turns
 * ZMSCORE's strings into numbers). A member is listed here only because a package calls it; the
 * signatures are the forms we call, with the reply shapes we read (RESP2 shapes: ioredis 6 maps
 * its default RESP3 connection back to them).
 */
import { describeValue } from './describe'
import type { Checks } from './validators'

/**
 * An event listener. Declared as a method so its parameters are compared both ways: ioredis types
 * listeners as `(...args: any[]) => void`, and ours take what the event carries (`(channel: Buffer,
 * message: Buffer) => void` for `messageBuffer`).
 */
export type RedisListener = { listener(...args: unknown[]): void }['listener']

/** The commands scalekit sends with `multi()` or `pipeline()` (queued, sent by `exec()`). */
export interface RedisBatch {
  unlink(...keys: string[]): RedisBatch
  xadd(key: string, id: '*', ...fieldsAndValues: string[]): RedisBatch
  xadd(
    key: string,
    maxlen: 'MAXLEN',
    exact: '=',
    count: number,
    id: '*',
    ...fieldsAndValues: string[]
  ): RedisBatch
  xtrim(key: string, minid: 'MINID', exact: '=', threshold: string): RedisBatch
  pexpire(key: string, milliseconds: number): RedisBatch
  xack(key: string, group: string, ...ids: string[]): RedisBatch
  xdel(key: string, ...ids: string[]): RedisBatch
  /** Each command's `[error, reply]`; `null` when a transaction was aborted (WATCH). */
  exec(): Promise<[error: Error | null, reply: unknown][] | null>
}

/** The Redis commands scalekit packages send, in the forms they send them. */
export interface RedisCommands {
  get(key: string): Promise<string | null>
  mget(keys: string[]): Promise<(string | null)[]>
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<'OK' | null>
  eval(script: string, numkeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>
  evalsha(sha1: string, numkeys: number, ...keysAndArgs: (string | number)[]): Promise<unknown>
  zmscore(key: string, ...members: string[]): Promise<(string | null)[]>
  time(): Promise<(number | string)[]>
  scan(
    cursor: string,
    match: 'MATCH',
    pattern: string,
    count: 'COUNT',
    n: number,
  ): Promise<[cursor: string, keys: string[]]>
  publish(channel: string, message: string): Promise<number>
  subscribe(...channels: string[]): Promise<unknown>
  xadd(key: string, id: '*', ...fieldsAndValues: string[]): Promise<string | null>
  xautoclaim(
    key: string,
    group: string,
    consumer: string,
    minIdleTime: number,
    start: string,
    count: 'COUNT',
    n: number,
    justid: 'JUSTID',
  ): Promise<unknown[]>
  xrange(key: string, start: string, end: string, count: 'COUNT', n: number): Promise<unknown>
  xrevrange(key: string, end: string, start: string, count: 'COUNT', n: number): Promise<unknown>
  xlen(key: string): Promise<number>
  xgroup(create: 'CREATE', key: string, group: string, id: string, mkstream: 'MKSTREAM'): Promise<unknown>
  xgroup(delconsumer: 'DELCONSUMER', key: string, group: string, consumer: string): Promise<unknown>
  xinfo(consumers: 'CONSUMERS', key: string, group: string): Promise<unknown>
  /** Any command by name (a blocking XREADGROUP, whose arguments vary). */
  call(command: string, ...args: (string | number)[]): Promise<unknown>
  multi(): RedisBatch
  pipeline(): RedisBatch
}

/**
 * An ioredis `Redis` or `Cluster` (5 or 6) as scalekit packages use it: its commands, its
 * connection's life (`status`, `connect`, `quit`, `disconnect`), its events, a second connection
 * made like it (`duplicate`, for pub/sub and blocking reads).
 */
export interface RedisClient extends RedisCommands {
  /** ioredis' connection state: `wait` (lazy, not connected yet), `connecting`, `ready`, `reconnecting`, `end`… */
  readonly status: string
  /** True on an ioredis `Cluster`. */
  readonly isCluster: boolean
  connect(): Promise<void>
  quit(): Promise<unknown>
  disconnect(): void
  duplicate(): RedisClient
  on(event: string, listener: RedisListener): unknown
  once(event: string, listener: RedisListener): unknown
  off(event: string, listener: RedisListener): unknown
}

/** An ioredis `Cluster`: a {@link RedisClient} that also lists its nodes. */
export interface RedisClusterClient extends RedisClient {
  nodes(role: 'master' | 'slave' | 'all'): RedisClient[]
}

/** True for an ioredis `Cluster` (from any copy of ioredis: no `instanceof`). */
export function isRedisCluster(client: RedisClient): client is RedisClusterClient {
  return client.isCluster && typeof (client as Partial<RedisClusterClient>).nodes === 'function'
}

/** The schemes of a Redis URL ioredis connects to: plain and TLS. */
const SCHEMES = new Set(['redis:', 'rediss:'])

/**
 * Checks a `redis` option that takes a URL or an app's client, at construction: an empty string
 * (an unset `REDIS_URL`) never becomes ioredis' default `localhost:6379`, an options object is
 * refused with what to pass instead, and the message never echoes the URL (it may hold a password).
 * Returns the URL or the client.
 */
export function checkRedisInput(checks: Checks, name: string, value: unknown): RedisClient | string {
  const expected = `${name} must be a redis:// or rediss:// URL or an ioredis Redis or Cluster client`
  if (typeof value === 'string') {
    if (value.trim() === '') {
      checks.fail(`${expected}, got an empty string (is the variable it was read from, e.g. REDIS_URL, set?)`)
    }
    const scheme = /^([a-z][a-z0-9+.-]*:)\/\//i.exec(value)?.[1]?.toLowerCase()
    if (scheme === undefined || !SCHEMES.has(scheme)) {
      checks.fail(
        `${expected}, got a string ${scheme === undefined ? 'with no scheme' : `with the scheme '${scheme}'`} (write redis://host:6379, or rediss:// for TLS)`,
      )
    }
    try {
      new URL(value)
    } catch {
      checks.fail(`${expected}, got a ${scheme} string that is not a valid URL`)
    }
    return value
  }
  if (typeof value !== 'object' || value === null) checks.fail(`${expected}, got ${describeValue(value)}`)
  const client = value as Partial<Record<keyof RedisClient, unknown>> & { options?: unknown }
  const missing = (['eval', 'evalsha', 'duplicate', 'on', 'connect', 'quit'] as const).filter(
    (m) => typeof client[m] !== 'function',
  )
  if (missing.length > 0 || typeof client.status !== 'string') {
    checks.fail(
      `${expected}, got ${describeValue(value)} without ${missing.length > 0 ? missing.join(', ') : 'status'} (for connection options such as host and port, pass redis://host:port, or new Redis({ host, port }) from ioredis)`,
    )
  }
  if (replyMapping(client.options) === 'resp3') {
    checks.fail(
      `${name} must be a client with ioredis' default replyMapping ('legacy'); this one maps replies as 'resp3' (maps as objects, doubles as numbers), which the package cannot read: pass client.duplicate({ replyMapping: 'legacy' })`,
    )
  }
  return value as RedisClient
}

/** ioredis 6's `replyMapping` of a `Redis` (`options`) or a `Cluster` (`options.redisOptions`). */
function replyMapping(options: unknown): unknown {
  if (typeof options !== 'object' || options === null) return undefined
  const o = options as { replyMapping?: unknown; redisOptions?: { replyMapping?: unknown } }
  return o.replyMapping ?? o.redisOptions?.replyMapping
}
