/**
 * Every cache library under comparison behind one small interface, in the three shapes the
 * scenarios need: in-process only, Redis only (L1 off), and both tiers. Each is configured the way
 * its own docs show, with its defaults, except where a scenario says otherwise (the bounds of the
 * memory scenario, the Redis address of the outage scenario).
 */
import { cachified, type Cache as CachifiedCache, type CacheEntry, totalTtl } from '@epic-web/cachified'
import KeyvRedis from '@keyv/redis'
import { createClient } from '@redis/client'
import { type CacheHealth, createCache } from '@scalekit/cache'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { redisDriver } from 'bentocache/drivers/redis'
import { createCache as createCacheManager } from 'cache-manager'
import { redisCacheAdapter } from 'cachified-redis-adapter'
import { Redis } from 'ioredis'
import { Keyv } from 'keyv'
import { LRUCache } from 'lru-cache'

export type Library = 'scalekit' | 'bentocache' | 'cache-manager' | 'cachified'
export const LIBRARIES: readonly Library[] = ['scalekit', 'bentocache', 'cache-manager', 'cachified']

/** `memory`: in-process only; `redis`: Redis only, L1 off; `tiered`: in-process L1 in front of Redis. */
export type Shape = 'memory' | 'redis' | 'tiered'

export type Factory = () => unknown

/** What every scenario drives. */
export interface Subject {
  readonly library: Library
  /** How this library was set up, for the tables. */
  readonly setup: string
  getOrSet(key: string, factory: Factory): Promise<unknown>
  set(key: string, value: unknown): Promise<void>
  /** Entries held in memory, when the library lets us see it. */
  memoryEntries?(): number | undefined
  /** Closes gracefully; never waits on a dead Redis longer than `capMs`. */
  close(capMs?: number): Promise<void>
}

export interface SubjectOptions {
  shape: Shape
  /** Unique per run: namespace / key prefix, so runs and libraries never share keys. */
  prefix: string
  /** Redis URL (required for `redis` and `tiered`). */
  redisUrl?: string
  ttlMs: number
  /** Bounds of the in-process tier, where the library has an equivalent. */
  memory?: { maxEntries: number; maxBytes: number }
}

/** Unsupported combination: the reason is printed as "n/a (reason)". */
export class NotApplicable extends Error {}

export async function createSubject(library: Library, options: SubjectOptions): Promise<Subject> {
  switch (library) {
    case 'scalekit':
      return ours(options)
    case 'bentocache':
      return bento(options)
    case 'cache-manager':
      return cacheManager(options)
    case 'cachified':
      return cachifiedSubject(options)
  }
}

async function capped(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    promise.catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, ms)
      timer.unref()
    }),
  ])
  clearTimeout(timer)
}

function needUrl(options: SubjectOptions): string {
  if (options.redisUrl === undefined) throw new Error(`shape ${options.shape} needs redisUrl`)
  return options.redisUrl
}

// ----- @scalekit/cache -------------------------------------------------------------------------

function ours(options: SubjectOptions): Subject {
  return createOurs(options).subject
}

/** Ours, with `health()` for the scenarios that report it. */
export function createOurs(options: SubjectOptions): { subject: Subject; health: () => CacheHealth } {
  const { shape, prefix, ttlMs, memory } = options
  const cache = createCache({
    namespace: prefix,
    l1:
      shape === 'redis'
        ? false
        : memory === undefined
          ? {}
          : { maxEntries: memory.maxEntries, maxBytes: memory.maxBytes },
    ttl: ttlMs,
    ...(shape === 'memory' ? {} : { redis: needUrl(options) }),
  })
  return {
    subject: {
      library: 'scalekit',
      setup:
        shape === 'memory'
          ? memory === undefined
            ? 'l1 default (10k entries / 64 MiB)'
            : `l1 maxEntries ${memory.maxEntries}, maxBytes ${memory.maxBytes} (encoded bytes + key + 128 B/entry)`
          : shape === 'redis'
            ? 'l1: false, redis URL (timeout 250 ms)'
            : 'l1 default + redis URL (bus on)',
      getOrSet: (key, factory) => cache.getOrSet(key, factory),
      set: (key, value) => cache.set(key, value),
      memoryEntries: () => cache.health().l1?.entries,
      close: (capMs = 3_000) => capped(cache.close({ timeout: capMs }), capMs + 1_500),
    },
    health: () => cache.health(),
  }
}

/** The little of another build of @scalekit/cache that the before/after rows use (any revision has it). */
interface CacheBuild {
  createCache(options: { namespace: string; l1?: false | object; ttl?: number; redis?: string }): {
    getOrSet(key: string, factory: Factory): Promise<unknown>
    set(key: string, value: unknown): Promise<void>
    close(): Promise<void>
  }
}

/**
 * Other builds of @scalekit/cache, set up like ours, for a before/after within one run:
 * `SK_CACHE_BEFORE=/abs/path/dist/index.js` adds "(before)"; `SK_CACHE_BEFORE=label=/abs/a.js,other=/abs/b.js`
 * adds one row per build, named by its label (e.g. the commit before a change, or a variant without
 * one optimisation, each built aside). None when unset.
 */
export async function createOtherBuilds(
  options: SubjectOptions,
): Promise<{ label: string; subject: Subject }[]> {
  const spec = process.env.SK_CACHE_BEFORE ?? ''
  const builds = spec
    .split(',')
    .filter((part) => part !== '')
    .map((part) => {
      const at = part.indexOf('=')
      return at < 0 ? { label: 'before', path: part } : { label: part.slice(0, at), path: part.slice(at + 1) }
    })
  const { shape, prefix, ttlMs } = options
  const made: { label: string; subject: Subject }[] = []
  for (const { label, path } of builds) {
    const build = (await import(path)) as CacheBuild
    const cache = build.createCache({
      namespace: `${prefix}_${label.replace(/[^\w.-]/g, '_')}`,
      l1: shape === 'redis' ? false : {},
      ttl: ttlMs,
      ...(shape === 'memory' ? {} : { redis: needUrl(options) }),
    })
    made.push({
      label,
      subject: {
        library: 'scalekit',
        setup: `the build at ${path}, set up as ours`,
        getOrSet: (key, factory) => cache.getOrSet(key, factory),
        set: (key, value) => cache.set(key, value),
        close: (capMs = 3_000) => capped(cache.close(), capMs + 1_500),
      },
    })
  }
  return made
}

// ----- bentocache ------------------------------------------------------------------------------

function bento(options: SubjectOptions): Subject {
  const { shape, prefix, ttlMs, memory } = options
  const memoryLayer = memoryDriver(
    memory === undefined ? {} : { maxItems: memory.maxEntries, maxSize: memory.maxBytes },
  )
  let store = bentostore()
  if (shape !== 'redis') store = store.useL1Layer(memoryLayer)
  let connection: Redis | undefined
  if (shape !== 'memory') {
    // An ioredis client with its defaults, as bentocache would make from connection options, plus an
    // 'error' listener: without one ioredis prints every failed reconnect while Redis is down.
    connection = new Redis(needUrl(options))
    connection.on('error', () => undefined)
    store = store.useL2Layer(redisDriver({ connection }))
  }
  const cache = new BentoCache({ default: 'bench', prefix, ttl: ttlMs, stores: { bench: store } })
  const setup =
    shape === 'memory'
      ? memory === undefined
        ? 'memory driver (defaults: 1000 items, serialize)'
        : `memory driver maxItems ${memory.maxEntries}, maxSize ${memory.maxBytes} B (serialized bytes)`
      : shape === 'redis'
        ? 'redis driver only, ioredis defaults'
        : 'memory driver + redis driver (ioredis defaults), no bus'
  return {
    library: 'bentocache',
    setup,
    getOrSet: (key, factory) => cache.getOrSet({ key, factory, ttl: ttlMs }),
    set: async (key, value) => {
      await cache.set({ key, value, ttl: ttlMs })
    },
    close: async (capMs = 3_000) => {
      await capped(cache.disconnect(), capMs)
      connection?.disconnect()
    },
  }
}

// ----- cache-manager (keyv) --------------------------------------------------------------------

function cacheManager(options: SubjectOptions): Subject {
  const { shape, prefix, ttlMs, memory } = options
  const stores: Keyv[] = []
  let lru: LRUCache<string, string> | undefined
  if (shape !== 'redis') {
    if (memory === undefined) {
      stores.push(new Keyv())
    } else {
      // cache-manager's memory store (keyv) has no byte bound of its own: an lru-cache with
      // maxSize as keyv's Map-like store is the nearest equivalent. keyv stores serialized strings.
      const bounded = new LRUCache<string, string>({
        max: memory.maxEntries,
        maxSize: memory.maxBytes,
        sizeCalculation: (v) => Math.max(1, v.length),
      })
      lru = bounded
      // keyv calls store.set(key, value, ttlNumber); lru-cache wants an options object there.
      const store = {
        get: (key: string) => bounded.get(key),
        set: (key: string, value: string, ttl?: number) =>
          bounded.set(key, value, ttl === undefined ? {} : { ttl }),
        delete: (key: string) => bounded.delete(key),
        has: (key: string) => bounded.has(key),
        clear: () => {
          bounded.clear()
        },
      }
      stores.push(new Keyv({ store }))
    }
  }
  if (shape !== 'memory')
    stores.push(
      new Keyv({ store: new KeyvRedis(needUrl(options), { namespace: prefix }), namespace: prefix }),
    )
  const cache = createCacheManager({ stores, ttl: ttlMs })
  const setup =
    shape === 'memory'
      ? memory === undefined
        ? 'keyv default (Map, unbounded)'
        : `keyv over an lru-cache wrapper, max ${memory.maxEntries}, maxSize ${memory.maxBytes} (string length)`
      : shape === 'redis'
        ? 'keyv + @keyv/redis (node-redis)'
        : 'keyv Map + keyv @keyv/redis'
  return {
    library: 'cache-manager',
    setup,
    getOrSet: (key, factory) => cache.wrap(key, factory, ttlMs),
    set: async (key, value) => {
      await cache.set(key, value, ttlMs)
    },
    ...(lru === undefined ? {} : { memoryEntries: () => lru.size }),
    close: (capMs = 3_000) => capped(cache.disconnect(), capMs),
  }
}

// ----- @epic-web/cachified ---------------------------------------------------------------------

/** The lru-cache adapter from cachified's README. */
function lruAdapter(lru: LRUCache<string, CacheEntry>): CachifiedCache {
  return {
    set(key, value) {
      const ttl = totalTtl(value.metadata)
      return lru.set(key, value, {
        ttl: ttl === Infinity ? undefined : ttl,
        start: value.metadata.createdTime,
      })
    },
    get: (key) => lru.get(key),
    delete: (key) => lru.delete(key),
  }
}

async function cachifiedSubject(options: SubjectOptions): Promise<Subject> {
  const { shape, prefix, ttlMs, memory } = options
  let cache: CachifiedCache
  let lru: LRUCache<string, CacheEntry> | undefined
  let close: () => Promise<unknown> = () => Promise.resolve()
  let setup: string
  if (shape === 'memory') {
    lru =
      memory === undefined
        ? new LRUCache<string, CacheEntry>({ max: 1000 })
        : new LRUCache<string, CacheEntry>({
            max: memory.maxEntries,
            maxSize: memory.maxBytes,
            // cachified keeps the value object itself: the adapter must say what an entry weighs.
            sizeCalculation: (entry) => Math.max(1, JSON.stringify(entry.value).length),
          })
    cache = lruAdapter(lru)
    setup =
      memory === undefined
        ? 'lru-cache adapter (max 1000)'
        : `lru-cache adapter max ${memory.maxEntries}, maxSize ${memory.maxBytes} (JSON length, user-supplied)`
  } else {
    // One cache per call: cachified has no tiers, so `tiered` is the Redis adapter alone.
    const client = createClient({ url: needUrl(options) })
    client.on('error', () => undefined)
    // Users await connect() at startup; when Redis is unreachable that never settles, so don't block on it here.
    const connected = client.connect()
    connected.catch(() => undefined)
    await capped(connected, 2_000)
    cache = redisCacheAdapter(client)
    close = async () => {
      await capped(client.close(), 2_000)
      client.destroy()
    }
    setup =
      shape === 'redis'
        ? 'cachified-redis-adapter (node-redis)'
        : 'cachified-redis-adapter (no tiers in cachified)'
  }
  return {
    library: 'cachified',
    setup,
    getOrSet: (key, factory) =>
      cachified({ key: `${prefix}:${key}`, cache, getFreshValue: factory, ttl: ttlMs }),
    set: async (key, value) => {
      await cachified({
        key: `${prefix}:${key}`,
        cache,
        getFreshValue: () => value,
        ttl: ttlMs,
        forceFresh: true,
      })
    },
    ...(lru === undefined ? {} : { memoryEntries: () => lru.size }),
    close: (capMs = 3_000) => capped(close(), capMs),
  }
}
