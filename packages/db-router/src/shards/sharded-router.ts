import {
  CloseGate,
  createChecks,
  createWarner,
  describeValue,
  onlyKnownOptions,
  parseDuration,
  sleep,
} from '@scalekit/internal'
import type {
  Closeable,
  CloseOptions,
  Duration,
  HealthSnapshot,
  HealthStatus,
  Logger,
  Warner,
} from '@scalekit/internal'
import type { QueryConfig, QueryResult, QueryResultRow } from 'pg'
import {
  DbBucketMovingError,
  DbCrossShardError,
  DbMergeUnsupportedError,
  DbRouterArgumentError,
  DbRouterClosedError,
  DbRouterOptionsError,
  DbShardKeyRequiredError,
  DbShardsFailedError,
  type ShardFailure,
} from '../errors'
import type { DbRouterOptions } from '../options'
import { createDbRouter } from '../router'
import type { DbRouter, DbRouterHealth, QueryOptions, TransactionClient, TransactionOptions } from '../types'
import { traceShard } from './channels'
import type { ShardCallContext } from './channels'
import { mergeRows, runOnShards } from './fan-out'
import type { CrossShardResult, MergeOption, PartialCrossShardResult } from './fan-out'
import { canonicalKey } from './hash'
import type { ShardKey } from './hash'
import { Directory } from './directory'
import { bucketCount, createShardMap } from './map'
import type { DirectoryMapOptions, ShardMap, StaticMapOptions } from './map'
import { internalsOf } from './internals'
import { loadStatementParser, StatementAnalyzer } from './statement'
import type { KeyRef, StatementInfo } from './statement'

const check = createChecks(DbRouterOptionsError)

/** One shard: a primary with optional replicas, and any option of `createDbRouter` for it alone. */
export type ShardOptions = DbRouterOptions

/** Options of {@link createShardedRouter}. */
export interface ShardedRouterOptions {
  /** The shards by name (letters, digits, `_`, `-`, `.`): each becomes a `createDbRouter` router of its own. */
  shards: Readonly<Record<string, ShardOptions>>
  /** Which shard owns a key. Shards the map never names are databases for {@link placement} only. */
  map: StaticMapOptions | DirectoryMapOptions
  /**
   * The column that holds the shard key in every sharded table (`tenant_id`): `db.query()` reads the
   * key from an equality on it when no `shardKey` is given. @default none: `db.query()` needs `{ shardKey }`
   */
  shardColumn?: string
  /**
   * Vertical partitioning: a table → shard (database) map. A statement whose tables are all placed
   * on one database goes there; one touching tables of two databases, or placed and sharded tables
   * together, is refused with `ERR_DB_CROSS_SHARD` naming them. @default {}
   */
  placement?: Readonly<Record<string, string>>
  /** Options for every shard's router (each shard's own options win, group by group). @default {} */
  router?: Omit<DbRouterOptions, 'primary' | 'replicas'>
  /** Defaults of `queryAllShards()`. */
  crossShard?: {
    /** Shards queried at once. @default 8 */
    concurrency?: number
    /** Upper bound of the whole cross-shard call. @default 30000 */
    timeout?: Duration
  }
  /** Where sharding trouble goes (a shard failing in a cross-shard query); each shard's router uses it too unless it has its own. @default process warnings */
  logger?: Logger
}

/** Per-call options of `db.query()` on a sharded router. */
export interface ShardQueryOptions extends QueryOptions {
  /** The shard key: routes without reading the statement. */
  shardKey?: ShardKey
}

/** Options of `queryAllShards()`. */
export interface CrossShardOptions<R extends QueryResultRow> {
  /** `'fail'`: any shard failing rejects with `ERR_DB_SHARDS_FAILED`; `'partial'`: resolve with the rows that came and the failed shards. @default 'fail' */
  onError?: 'fail' | 'partial'
  /** @default 'auto' */
  merge?: MergeOption<R>
  /** @default `crossShard.concurrency` */
  concurrency?: number
  /** @default `crossShard.timeout` */
  timeout?: Duration
  /** As in `db.query()`. */
  role?: 'primary' | 'replica'
}

/** `health()` of a sharded router: `ok` when every shard is, `down` when every shard is down, else `degraded`. */
export interface ShardedRouterHealth extends HealthSnapshot {
  readonly shards: Readonly<Record<string, DbRouterHealth>>
}

/** A router over shards: each key's statements go to the shard that owns it. */
export interface ShardedRouter extends Closeable {
  /** The map's shards, in order (what `queryAllShards()` runs on). */
  readonly shardNames: readonly string[]
  /** The validated shard map. */
  readonly map: ShardMap
  /** Resolves once every shard can classify statements and the sharding parser is loaded; connects to nothing. */
  ready(): Promise<void>
  /** The name of the shard that owns `key`. */
  shardOf(key: ShardKey): string
  /**
   * The router of the shard that owns `key`: query, transaction, connect, consistency — everything
   * of `createDbRouter`. Not with a directory map (`ERR_DB_INVALID_ARGUMENT`): there a write must
   * check the bucket's fence in its transaction, which `db.query()` and `db.transaction()` do.
   */
  shard(key: ShardKey): DbRouter
  /** A shard's (or placed database's) router by name. */
  router(name: string): DbRouter
  /**
   * Runs a statement on the shard its key names: `options.shardKey`, else an equality on
   * `shardColumn` read by the parser (`WHERE tenant_id = $1`, `INSERT (tenant_id, …) VALUES ($1, …)`),
   * else the database its tables are placed on. Anything else is refused before it is sent:
   * `ERR_DB_SHARD_KEY_REQUIRED` (no key, an OR, a join without the key…), `ERR_DB_CROSS_SHARD`
   * (keys or tables on several shards). Never broadcast.
   */
  query<R extends QueryResultRow = QueryResultRow>(
    textOrConfig: string | QueryConfig<unknown[]>,
    values?: readonly unknown[],
    options?: ShardQueryOptions,
  ): Promise<QueryResult<R>>
  /** A transaction on `key`'s shard; a statement in it whose key belongs to another shard is refused (`ERR_DB_CROSS_SHARD`). */
  transaction<T>(
    key: ShardKey,
    fn: (tx: TransactionClient) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T>
  /** Runs a statement on every shard and merges the rows (see {@link CrossShardOptions}); any shard failing rejects with `ERR_DB_SHARDS_FAILED`. */
  queryAllShards<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: readonly unknown[],
    options?: CrossShardOptions<R> & { onError?: 'fail' },
  ): Promise<CrossShardResult<R>>
  /** Same, resolving with the rows of the shards that answered and the list of those that failed. */
  queryAllShards<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values: readonly unknown[] | undefined,
    options: CrossShardOptions<R> & { onError: 'partial' },
  ): Promise<PartialCrossShardResult<R>>
  /** Every shard's snapshot; no I/O. */
  health(): ShardedRouterHealth
  /** A health round on every shard now. */
  checkHealth(): Promise<ShardedRouterHealth>
  /** Closes every shard's router within `timeout` (they close in parallel); see `DbRouter.close`. */
  close(options?: CloseOptions): Promise<void>
}

/**
 * Creates a router over shards. Each shard is a `createDbRouter` router of its own (a primary and
 * optional replicas, with everything it does: classification, read-your-writes, health, breakers).
 * Connects lazily; options and the map are validated here (`ERR_DB_INVALID_OPTIONS`).
 */
export function createShardedRouter(options: ShardedRouterOptions): ShardedRouter {
  return new Sharded(options)
}

const NAME = /^[A-Za-z0-9_.-]{1,63}$/

class Sharded implements ShardedRouter {
  readonly shardNames: readonly string[]
  readonly map: ShardMap
  readonly #routers = new Map<string, DbRouter>()
  readonly #mapRouters: readonly (readonly [string, DbRouter])[]
  readonly #placement: ReadonlyMap<string, string>
  readonly #analyzer: StatementAnalyzer
  readonly #concurrency: number
  readonly #timeout: number
  readonly #warner: Warner
  readonly #gate = new CloseGate(DbRouterArgumentError, (ms) => this.#close(ms))
  #parserLoaded = false
  readonly #directory: Directory | undefined
  readonly #fenceWait: number = 0

  constructor(options: ShardedRouterOptions) {
    if (typeof options !== 'object' || (options as unknown) === null)
      throw new DbRouterOptionsError('createShardedRouter needs an options object')
    onlyKnownOptions(check, '', options, [
      'shards',
      'map',
      'shardColumn',
      'placement',
      'router',
      'crossShard',
      'logger',
    ])
    const shards = check.group('shards', options.shards)
    const names = Object.keys(shards)
    if (names.length === 0) check.fail('shards must name at least one shard')
    for (const name of names)
      if (!NAME.test(name))
        check.fail(
          `shards: ${JSON.stringify(name)} is not a valid shard name (letters, digits, _ - ., up to 63)`,
        )
    const column: unknown = options.shardColumn
    if (column !== undefined && (typeof column !== 'string' || !/^[A-Za-z_][A-Za-z0-9_$]*$/.test(column)))
      check.fail(`shardColumn must be a column name, got ${describeValue(column)}`)
    const placement = check.group('placement', options.placement)
    for (const [table, db] of Object.entries(placement)) {
      if (typeof db !== 'string' || !names.includes(db))
        check.fail(`placement.${table} must name a shard of options.shards, got ${describeValue(db)}`)
    }
    this.#placement = new Map(Object.entries(placement).map(([t, d]) => [t.toLowerCase(), d as string]))
    const mapOptions = check.group('map', options.map) as StaticMapOptions | DirectoryMapOptions
    // Databases named by `placement` hold whole tables, never buckets or ranges.
    const placedOn = new Set(this.#placement.values())
    const dataShards = names.filter((n) => !placedOn.has(n))
    let directory: { options: DirectoryMapOptions; shards: string[] } | undefined
    if (mapOptions.strategy === 'directory') {
      onlyKnownOptions(check, 'map', mapOptions, [
        'strategy',
        'home',
        'buckets',
        'prefix',
        'refresh',
        'fenceWait',
      ])
      if (typeof mapOptions.home !== 'string' || !names.includes(mapOptions.home))
        check.fail(`map.home must name a shard of options.shards, got ${describeValue(mapOptions.home)}`)
      const prefix: unknown = mapOptions.prefix
      if (prefix !== undefined && (typeof prefix !== 'string' || !/^[a-z_][a-z0-9_]{0,40}$/.test(prefix)))
        check.fail(
          `map.prefix must be a lower-case SQL name of at most 41 characters, got ${describeValue(prefix)}`,
        )
      directory = { options: mapOptions, shards: dataShards }
    }
    const cross = check.group('crossShard', options.crossShard)
    onlyKnownOptions(check, 'crossShard', cross, ['concurrency', 'timeout'])
    this.#concurrency = check.integer('crossShard.concurrency', cross.concurrency, 8, { min: 1 })
    this.#timeout = check.duration('crossShard.timeout', cross.timeout, 30_000, { min: 1 })
    const common = check.group('router', options.router)
    for (const name of names) {
      const own = check.group(`shards.${name}`, shards[name])
      const merged = {
        ...common,
        ...own,
        logger: own.logger ?? common.logger ?? options.logger,
      } as DbRouterOptions
      try {
        this.#routers.set(name, createDbRouter(merged))
      } catch (error) {
        for (const r of this.#routers.values()) void r.close({ timeout: 0 })
        if (error instanceof DbRouterOptionsError)
          throw new DbRouterOptionsError(`shards.${name}: ${error.message}`, { cause: error })
        throw error
      }
    }
    if (directory === undefined) {
      this.map = createShardMap(mapOptions as StaticMapOptions, dataShards)
    } else {
      const o = directory.options
      const dir = new Directory(
        o.home,
        this.#routers.get(o.home) as DbRouter,
        bucketCount('map', o.buckets),
        o.prefix ?? 'scalekit_shard',
        check.duration('map.refresh', o.refresh, 1000, { min: 1 }),
      )
      this.#directory = dir
      this.#fenceWait = check.duration('map.fenceWait', o.fenceWait, 10_000)
      this.map = {
        strategy: 'directory',
        shards: directory.shards,
        shardOf: (key) => {
          // Routing re-checks a stale directory before it sends; a lookup refreshes it in the background.
          if (dir.stale) dir.refresh().catch(() => undefined)
          return dir.entry(dir.bucketOf(key)).shard
        },
        bucketOf: (key) => dir.bucketOf(key),
        shardOfBucket: (bucket) => {
          if (!Number.isInteger(bucket) || bucket < 0 || bucket >= dir.buckets)
            throw new DbRouterArgumentError(
              `bucket must be a whole number in [0, ${dir.buckets - 1}], got ${describeValue(bucket)}`,
            )
          if (dir.stale) dir.refresh().catch(() => undefined)
          return dir.entry(bucket).shard
        },
      }
    }
    this.shardNames = this.map.shards
    this.#mapRouters = this.shardNames.map((n) => [n, this.#routers.get(n) as DbRouter] as const)
    internalsOf.set(this, {
      directory: this.#directory,
      column: column as string | undefined,
      routers: this.#routers,
      shards: this.shardNames,
    })
    this.#analyzer = new StatementAnalyzer(column as string | undefined)
    this.#warner = createWarner('db-router', options.logger)
    loadStatementParser().then(
      () => {
        this.#parserLoaded = true
      },
      () => undefined,
    )
  }

  async ready(): Promise<void> {
    await Promise.all([
      loadStatementParser(),
      this.#directory?.refresh(true),
      ...[...this.#routers.values()].map((r) => r.ready()),
    ])
    this.#parserLoaded = true
  }

  shardOf(key: ShardKey): string {
    canonicalKey(key, 'shard key')
    return this.map.shardOf(key)
  }

  shard(key: ShardKey): DbRouter {
    if (this.#gate.closed) throw new DbRouterClosedError('the sharded router is closed')
    if (this.#directory !== undefined)
      throw new DbRouterArgumentError(
        'shard(key) is not available with a directory map: a write must check the bucket fence in its transaction; use db.query(text, values, { shardKey }) or db.transaction(key, fn)',
      )
    return this.#routers.get(this.shardOf(key)) as DbRouter
  }

  router(name: string): DbRouter {
    const router = this.#routers.get(name)
    if (router === undefined) throw new DbRouterArgumentError(`no shard is named ${describeValue(name)}`)
    return router
  }

  query<R extends QueryResultRow = QueryResultRow>(
    first: string | QueryConfig<unknown[]>,
    second?: unknown,
    third?: unknown,
  ): Promise<QueryResult<R>> {
    try {
      if (this.#gate.closed) throw new DbRouterClosedError('the sharded router is closed')
      const firstArg: unknown = first
      const configGiven = typeof firstArg === 'object' && firstArg !== null
      const given: unknown = configGiven && !Array.isArray(second) ? second : third
      if (given !== undefined && (typeof given !== 'object' || given === null))
        throw new DbRouterArgumentError(
          `query options must be an object such as { shardKey }, got ${describeValue(given)}`,
        )
      const options = given as ShardQueryOptions | undefined
      const routing: QueryOptions | undefined =
        options?.role === undefined ? undefined : { role: options.role }
      const forward = (router: DbRouter): Promise<QueryResult<R>> =>
        configGiven && !Array.isArray(second)
          ? routing === undefined
            ? router.query<R>(first)
            : router.query<R>(first as QueryConfig<unknown[]>, routing)
          : router.query<R>(first, second as readonly unknown[] | undefined, routing)
      const inTransaction = (tx: TransactionClient): Promise<QueryResult<R>> =>
        configGiven && !Array.isArray(second)
          ? tx.query<R>(first)
          : tx.query<R>(first, second as readonly unknown[] | undefined)
      const calls: Calls<R> = { forward, inTransaction }
      if (options?.shardKey !== undefined && this.#directory === undefined) {
        const shard = this.shardOf(options.shardKey)
        return traceShard({ shard, operation: 'query', route: 'option' }, () =>
          forward(this.#routers.get(shard) as DbRouter),
        )
      }
      const text = typeof first === 'string' ? first : (first as { text?: unknown } | null)?.text
      if (typeof text !== 'string')
        throw new DbRouterArgumentError(
          `query needs SQL text or a config object with a text, got ${describeValue(first)}`,
        )
      const values = (Array.isArray(second) ? second : (first as { values?: unknown[] }).values) as
        unknown[] | undefined
      const key = options?.shardKey
      if (key !== undefined) canonicalKey(key, 'shardKey')
      const route = (): Promise<QueryResult<R>> =>
        key === undefined
          ? this.#routeByStatement(this.#analyzer.analyze(text), values, calls)
          : this.#routeByKeys([key], this.#analyzer.analyze(text).read, calls, 'option')
      if (this.#parserLoaded) return route()
      return loadStatementParser().then(route)
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
  }

  #routeByStatement<R extends QueryResultRow>(
    info: StatementInfo,
    values: readonly unknown[] | undefined,
    calls: Calls<R>,
  ): Promise<QueryResult<R>> {
    const placed = this.#placedDatabase(info.tables)
    if (placed !== undefined)
      return traceShard({ shard: placed, operation: 'query', route: 'placement' }, () =>
        calls.forward(this.#routers.get(placed) as DbRouter),
      )
    if (!info.key.ok)
      throw new DbShardKeyRequiredError(
        `cannot route the statement to one shard (${info.key.reason}): pass { shardKey }, use db.shard(key), or queryAllShards()`,
        { reason: info.key.reason },
      )
    const keys = info.key.keys.map((ref) => resolveKey(ref, values))
    return this.#routeByKeys(keys, info.read, calls, 'statement')
  }

  /** The one shard of `keys` (else `ERR_DB_CROSS_SHARD`); with a directory map, a write goes through the bucket fence. */
  #routeByKeys<R extends QueryResultRow>(
    keys: readonly ShardKey[],
    read: boolean,
    calls: Calls<R>,
    route: ShardCallContext['route'],
  ): Promise<QueryResult<R>> {
    const shard = this.#oneShard(keys)
    const directory = this.#directory
    if (directory === undefined)
      return traceShard({ shard, operation: 'query', route }, () =>
        calls.forward(this.#routers.get(shard) as DbRouter),
      )
    return traceShard({ shard, operation: 'query', route }, async () => {
      if (directory.stale) await directory.refresh()
      const buckets = [...new Set(keys.map((k) => directory.bucketOf(k)))]
      const entries = buckets.map((b) => directory.entry(b))
      const owner = entries[0]?.shard as string
      // A read goes to the owner as the directory says, unless the bucket is being moved: then it
      // goes through the fence too, so it reads where the writes go.
      if (read && entries.every((e) => e.shard === owner && e.movingTo === undefined))
        return calls.forward(this.#routers.get(owner) as DbRouter)
      return this.#fenced(directory, buckets, (tx) => calls.inTransaction(tx), undefined)
    })
  }

  /** The shard of every key; `ERR_DB_CROSS_SHARD` when they are on several (a directory map checks per bucket later). */
  #oneShard(keys: readonly ShardKey[]): string {
    const first = this.map.shardOf(keys[0] as ShardKey)
    if (keys.length === 1 || this.#directory !== undefined) return first
    const shards = new Set(keys.map((k) => this.map.shardOf(k)))
    if (shards.size !== 1)
      throw new DbCrossShardError(
        `the statement's keys belong to ${shards.size} shards (${[...shards].join(', ')}); a statement runs on one shard: split it, or use queryAllShards()`,
      )
    return first
  }

  /**
   * Runs `run` in a transaction on the shard that owns `buckets`, after taking each bucket's
   * ownership row `FOR SHARE` and checking its epoch against the directory: a move takes the row
   * `FOR UPDATE` (waiting for such writes, holding new ones) while it copies, then deletes it. A write
   * that finds its shard no longer owns the bucket re-reads the directory and goes where it says
   * (or to the move's target once the source has let go), waiting up to `fenceWait` while a move is
   * between its steps.
   */
  async #fenced<T>(
    directory: Directory,
    buckets: readonly number[],
    run: (tx: TransactionClient, shard: string) => Promise<T>,
    options: TransactionOptions | undefined,
  ): Promise<T> {
    const deadline = performance.now() + this.#fenceWait
    const owned = directory.names.owned
    let target: { shard: string; epochs: readonly bigint[] } | undefined
    for (let attempt = 1; ; attempt += 1) {
      const entries = buckets.map((b) => directory.entry(b))
      const shards = new Set(entries.map((e) => e.shard))
      if (shards.size !== 1)
        throw new DbCrossShardError(
          "the statement's buckets belong to different shards: a statement runs on one shard",
        )
      const want = target ?? { shard: entries[0]?.shard as string, epochs: entries.map((e) => e.epoch) }
      const router = this.#routers.get(want.shard) as DbRouter
      const outcome = await router.transaction(async (tx) => {
        const { rows } = await tx.query<{ bucket: number; epoch: string }>(
          `SELECT bucket, epoch::text AS epoch FROM ${owned} WHERE bucket = ANY($1::int[]) FOR SHARE`,
          [buckets],
        )
        const held = new Map(rows.map((r) => [r.bucket, r.epoch]))
        if (buckets.some((b, i) => held.get(b) !== String(want.epochs[i]))) return undefined
        return { value: await run(tx, want.shard) }
      }, options)
      if (outcome !== undefined) return outcome.value
      await directory.refresh(true)
      const fresh = buckets.map((b) => directory.entry(b))
      const moved = fresh.some((e, i) => e.shard !== want.shard || e.epoch !== want.epochs[i])
      if (moved && target === undefined) continue
      const first = fresh[0]
      if (
        target === undefined &&
        first?.movingTo !== undefined &&
        fresh.every((e) => e.movingTo === first.movingTo)
      ) {
        // The source let go but the directory is not switched yet: the move's target owns it at epoch + 1.
        target = { shard: first.movingTo, epochs: fresh.map((e) => e.epoch + 1n) }
        continue
      }
      target = undefined
      if (performance.now() > deadline)
        throw new DbBucketMovingError(
          `bucket ${buckets.join(', ')} is being moved: no shard accepted the write within map.fenceWait (${this.#fenceWait} ms); retry, or rerun the interrupted move`,
        )
      await sleep(Math.min(200, 10 * attempt))
    }
  }

  /** The database the statement's tables are placed on; undefined when none is placed; refused when they span databases. */
  #placedDatabase(tables: readonly string[]): string | undefined {
    if (this.#placement.size === 0 || tables.length === 0) return undefined
    const where = tables.map((t) => {
      const lower = t.toLowerCase()
      return this.#placement.get(lower) ?? this.#placement.get(lower.split('.').at(-1) ?? lower)
    })
    const dbs = new Set(where)
    if (dbs.size === 1 && !dbs.has(undefined)) return where[0]
    if (dbs.size === 1) return undefined
    const named = tables.map((t, i) => `${t} (${where[i] ?? 'sharded'})`)
    throw new DbCrossShardError(`the statement touches tables of different databases: ${named.join(', ')}`, {
      tables,
    })
  }

  transaction<T>(
    key: ShardKey,
    fn: (tx: TransactionClient) => Promise<T>,
    options?: TransactionOptions,
  ): Promise<T> {
    let shard: string
    try {
      if (this.#gate.closed) throw new DbRouterClosedError('the sharded router is closed')
      if (typeof fn !== 'function') throw new DbRouterArgumentError('transaction needs a key and a function')
      shard = this.shardOf(key)
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
    const router = this.#routers.get(shard) as DbRouter
    const directory = this.#directory
    return traceShard({ shard, operation: 'transaction', route: 'key' }, async () => {
      await loadStatementParser()
      if (directory === undefined) return router.transaction((tx) => fn(this.#guard(tx, shard)), options)
      return this.#fenced(
        directory,
        [directory.bucketOf(key)],
        (tx, owner) => fn(this.#guard(tx, owner)),
        options,
      )
    })
  }

  /** The transaction's client, refusing statements whose key (when the parser reads one) belongs elsewhere. */
  #guard(tx: TransactionClient, shard: string): TransactionClient {
    const query = <R extends QueryResultRow>(
      textOrConfig: string | QueryConfig<unknown[]>,
      values?: readonly unknown[],
    ): Promise<QueryResult<R>> => {
      const text = typeof textOrConfig === 'string' ? textOrConfig : textOrConfig.text
      const info = this.#analyzer.analyze(text)
      if (info.key.ok) {
        const vals = values ?? (typeof textOrConfig === 'string' ? undefined : textOrConfig.values)
        try {
          for (const ref of info.key.keys) {
            const owner = this.map.shardOf(resolveKey(ref, vals))
            if (owner !== shard)
              return Promise.reject(
                new DbCrossShardError(
                  `a transaction on shard ${shard} cannot touch a key of shard ${owner}: a transaction never spans shards`,
                ),
              )
          }
        } catch (error) {
          return Promise.reject(error instanceof Error ? error : new Error(String(error)))
        }
      }
      return tx.query<R>(textOrConfig, values)
    }
    return { query, client: tx.client }
  }

  queryAllShards<R extends QueryResultRow = QueryResultRow>(
    text: string,
    values?: readonly unknown[],
    options?: CrossShardOptions<R>,
  ): Promise<CrossShardResult<R>> & Promise<PartialCrossShardResult<R>> {
    return this.#all<R>(text, values, options) as Promise<CrossShardResult<R>> &
      Promise<PartialCrossShardResult<R>>
  }

  async #all<R extends QueryResultRow>(
    text: string,
    values: readonly unknown[] | undefined,
    options: CrossShardOptions<R> = {},
  ): Promise<CrossShardResult<R> | PartialCrossShardResult<R>> {
    if (this.#gate.closed) throw new DbRouterClosedError('the sharded router is closed')
    if (typeof text !== 'string')
      throw new DbRouterArgumentError(`queryAllShards needs SQL text, got ${describeValue(text)}`)
    if (values !== undefined && !Array.isArray(values))
      throw new DbRouterArgumentError(`values must be an array, got ${describeValue(values)}`)
    if (typeof options !== 'object' || (options as unknown) === null)
      throw new DbRouterArgumentError(
        `queryAllShards options must be an object, got ${describeValue(options)}`,
      )
    const onError: unknown = options.onError ?? 'fail'
    if (onError !== 'fail' && onError !== 'partial')
      throw new DbRouterArgumentError(`onError must be 'fail' or 'partial', got ${describeValue(onError)}`)
    const merge = options.merge ?? 'auto'
    if (
      merge !== 'auto' &&
      merge !== 'concat' &&
      (typeof merge !== 'object' || typeof merge.orderBy !== 'function')
    )
      throw new DbRouterArgumentError(
        `merge must be 'auto', 'concat' or { orderBy, limit? }, got ${describeValue(merge)}`,
      )
    const concurrency = options.concurrency ?? this.#concurrency
    if (!Number.isSafeInteger(concurrency) || concurrency < 1)
      throw new DbRouterArgumentError(
        `concurrency must be a whole number >= 1, got ${describeValue(concurrency)}`,
      )
    const timeout = options.timeout === undefined ? this.#timeout : parseDuration(options.timeout)
    if (timeout === undefined || timeout <= 0)
      throw new DbRouterArgumentError(`timeout must be a duration, got ${describeValue(options.timeout)}`)
    await loadStatementParser()
    this.#parserLoaded = true
    const plan = merge === 'auto' ? this.#analyzer.analyze(text).merge : undefined
    if (plan !== undefined && !plan.ok)
      throw new DbMergeUnsupportedError(
        `queryAllShards cannot merge ${plan.reason} exactly: pass merge: 'concat' or { orderBy }, or rewrite the statement`,
      )
    const outcomes = await runOnShards(
      this.#mapRouters,
      text,
      values?.slice() as unknown[] | undefined,
      options.role,
      concurrency,
      timeout,
    )
    const failed: ShardFailure[] = []
    const answered: string[] = []
    const results: QueryResult[] = []
    for (const o of outcomes) {
      if (o.result !== undefined) {
        answered.push(o.shard)
        results.push(o.result)
      } else {
        const error = o.error ?? new Error('no answer')
        failed.push({ shard: o.shard, error })
        const code = (error as { code?: unknown }).code
        this.#warner.warn(
          `shard-failed:${o.shard}`,
          { code: typeof code === 'string' ? code : 'ERR_DB', shard: o.shard },
          `shard ${o.shard} failed in a cross-shard query`,
        )
      }
    }
    if (failed.length > 0 && onError === 'fail')
      throw new DbShardsFailedError(
        `${failed.length} of ${outcomes.length} shards failed (${failed.map((f) => f.shard).join(', ')}); pass onError: 'partial' to get the other shards' rows`,
        { failures: failed },
      )
    const rows = mergeRows<R>(results, merge, plan, values)
    const base = { rows, rowCount: rows.length, fields: results[0]?.fields ?? [], shards: answered }
    return failed.length === 0
      ? { ...base, complete: true, failed: [] }
      : { ...base, complete: false, failed }
  }

  health(): ShardedRouterHealth {
    const shards: Record<string, DbRouterHealth> = {}
    for (const [name, router] of this.#routers) shards[name] = router.health()
    return { status: this.#status(shards), shards }
  }

  async checkHealth(): Promise<ShardedRouterHealth> {
    if (!this.#gate.closed) await Promise.all([...this.#routers.values()].map((r) => r.checkHealth()))
    return this.health()
  }

  #status(shards: Readonly<Record<string, DbRouterHealth>>): HealthStatus {
    if (this.#gate.closed) return 'closed'
    const statuses = Object.values(shards).map((h) => h.status)
    if (statuses.every((s) => s === 'ok')) return 'ok'
    if (statuses.every((s) => s === 'down' || s === 'closed')) return 'down'
    return 'degraded'
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #close(timeout: number): Promise<void> {
    await Promise.allSettled([...this.#routers.values()].map((r) => r.close({ timeout })))
  }
}

/** How a statement is sent: through a shard's router, or in a (fenced) transaction. */
interface Calls<R extends QueryResultRow> {
  forward(router: DbRouter): Promise<QueryResult<R>>
  inTransaction(tx: TransactionClient): Promise<QueryResult<R>>
}

/** A key reference's value: a constant, or the call's parameter. */
function resolveKey(ref: KeyRef, values: readonly unknown[] | undefined): ShardKey {
  const v: unknown = 'param' in ref ? values?.[ref.param - 1] : ref.value
  if (typeof v === 'string' || typeof v === 'bigint' || (typeof v === 'number' && Number.isSafeInteger(v)))
    return v
  throw new DbShardKeyRequiredError(
    `the shard key ${'param' in ref ? `$${ref.param}` : 'constant'} is ${describeValue(v)}, not a string, safe integer or bigint`,
    { reason: 'key-not-constant' },
  )
}
