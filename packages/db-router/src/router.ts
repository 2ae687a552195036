import type { PoolClient, QueryResult, QueryResultRow } from 'pg'
import { createBalancer } from './balancing'
import { Classifier } from './classify/classifier'
import type { Decision, FunctionRow } from './classify/classifier'
import { createScopeStorage, Scope } from './consistency/scope'
import { decodeToken, encodeToken } from './consistency/token'
import { isPool, openPool, timedQuery } from './drivers/pg'
import { DbClosedError, DbInvalidArgumentError, DbRouterOptionsError, DbWriteOnReplicaError } from './errors'
import { RateBudget } from './internal/budget'
import { formatLsn } from './internal/lsn'
import { asError } from './internal/pg-errors'
import { normalizeQueryArgs, roleOf } from './internal/query-args'
import type { TimedQueryConfig } from './internal/query-args'
import { sourceOfReplica } from './internal/replica-input'
import { HealthMonitor } from './nodes/health'
import { Node } from './nodes/node'
import type { DbRouterOptions } from './options'
import { resolveOptions } from './options'
import type { Cluster } from './routing/cluster'
import { runOnPrimary, runWrite } from './routing/primary'
import { runRead } from './routing/read'
import { connectSession, runTransaction } from './routing/session'
import { sendTo } from './routing/trace'
import type { ConsistencyScope, DbRouter, NodeHandle, NodeStatus, RouterStatus, TransactionClient, TransactionOptions } from './types'

const FUNCTION_SQL = `SELECT p.proname AS name, n.nspname AS schema, p.provolatile::text AS volatility
  FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = ANY($1::text[])`

/**
 * Creates a router over a primary and its replicas. Connects lazily: nothing is opened until the
 * first call. Options are validated here (`ERR_DB_INVALID_OPTIONS`), never later.
 *
 * ```ts
 * const db = createDbRouter({ primary: process.env.DATABASE_URL, replicas: [process.env.REPLICA_URL] })
 * await db.query('SELECT * FROM users WHERE id = $1', [id]) // a replica
 * ```
 */
export function createDbRouter(options: DbRouterOptions): DbRouter {
  return new RouterPool(options)
}

/**
 * The implementation of {@link DbRouter}. Named like a pool on purpose: query builders that detect
 * a `pg.Pool` by constructor name (drizzle) then check out `connect()` sessions for transactions.
 */
class RouterPool implements DbRouter {
  readonly primary: NodeHandle
  readonly replicas: readonly NodeHandle[]
  readonly #cluster: Cluster
  readonly #health: HealthMonitor
  /** Calls in flight, and the wake-up of a `close()` waiting for them to end. */
  #active = 0
  #idle: (() => void) | undefined
  #started = false
  #closed = false

  constructor(options: DbRouterOptions) {
    if (typeof options !== 'object' || (options as unknown) === null) throw new DbRouterOptionsError('createDbRouter needs an options object')
    const settings = resolveOptions(options)
    const source: unknown = options.primary
    if (!(typeof source === 'string' || isPool(source) || (typeof source === 'object' && source !== null))) {
      throw new DbRouterOptionsError('primary must be a connection URL, a pg.Pool or a PoolConfig')
    }
    const inputs: unknown = options.replicas ?? []
    if (!Array.isArray(inputs)) throw new DbRouterOptionsError('replicas must be an array')
    const { breaker } = settings
    const replicaSources = (options.replicas ?? []).map((input, i) => sourceOfReplica(input, i))
    if (replicaSources.some((r) => r.source === options.primary)) {
      throw new DbRouterOptionsError('a replica cannot be the primary itself (its sessions are made read-only)')
    }
    const names = new Set(['primary', ...replicaSources.map((r) => r.name)])
    if (names.size !== replicaSources.length + 1) throw new DbRouterOptionsError('replica names must be unique and not "primary"')
    const p = openPool(options.primary, false, settings.timeouts)
    const primary = new Node({ name: 'primary', role: 'primary', pool: p.pool, owned: p.owned, weight: 1, breaker, timeouts: settings.timeouts })
    const replicas = replicaSources.map(({ source: s, weight, name }) => {
      const r = openPool(s, true, settings.timeouts)
      return new Node({ name, role: 'replica', pool: r.pool, owned: r.owned, weight, breaker, timeouts: settings.timeouts })
    })
    const c = settings.classification
    const classifier = new Classifier({
      readFunctions: c.readFunctions,
      writeFunctions: c.writeFunctions,
      cacheSize: c.cacheSize,
      lookup: c.lookupFunctions ? (list) => this.#lookupFunctions(list) : undefined,
    })
    this.#cluster = {
      primary,
      replicas,
      settings,
      classifier,
      balance: createBalancer<Node>(settings.balance),
      budget: new RateBudget(settings.fallback.maxPerSecond),
      scopes: createScopeStorage(),
      probes: new Map(),
      enter: () => {
        if (this.#closed) throw new DbClosedError('the router is closed')
        this.#start()
      },
    }
    this.#health = new HealthMonitor(primary, replicas, settings.health)
    this.primary = this.#handle(primary)
    this.replicas = replicas.map((n) => this.#handle(n))
  }

  /**
   * Not `async`: a classified read (the usual call) costs one promise, which its read settles after
   * counting itself out; other calls add one that counts them out.
   */
  query<R extends QueryResultRow = QueryResultRow>(first: unknown, second?: unknown, third?: unknown): Promise<QueryResult<R>> {
    try {
      this.#enter()
    } catch (error) {
      return Promise.reject(asError(error))
    }
    try {
      return this.#route<R>(first, second, third)
    } catch (error) {
      this.#leave()
      return Promise.reject(asError(error))
    }
  }

  /** Settles a tracked call: the value (or error) passes through. Fields, so no closure per call. */
  readonly #left = <T>(value: T): T => {
    this.#leave()
    return value
  }

  readonly #leftWith = (error: unknown): never => {
    this.#leave()
    throw error
  }

  /** What a read calls once it has settled. */
  readonly #readSettled = (): void => {
    this.#leave()
  }

  /** Where a statement goes, counted out when it settles; throws (not counted out) on bad arguments. */
  #route<R extends QueryResultRow>(first: unknown, second: unknown, third: unknown): Promise<QueryResult<R>> {
    const cluster = this.#cluster
    const config = normalizeQueryArgs(first, second, third, cluster.settings.timeouts.query)
    const role = roleOf(second, third)
    const decision = cluster.classifier.cached(config.text)
    if (decision === undefined) {
      return cluster.classifier.classify(config.text).then((d) => dispatch<R>(cluster, config, role, d)).then(this.#left, this.#leftWith)
    }
    if (role === undefined && decision.target === 'replica') return runRead<R>(cluster, config, decision, 'read', this.#readSettled)
    return dispatch<R>(cluster, config, role, decision).then(this.#left, this.#leftWith)
  }

  transaction<T>(fn: (tx: TransactionClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(new DbInvalidArgumentError('transaction needs a function'))
    return this.#track(() => runTransaction(this.#cluster, fn, options))
  }

  connect(): Promise<PoolClient> {
    return this.#track(() => connectSession(this.#cluster))
  }

  withConsistency<T>(first: unknown, second?: unknown): Promise<T> {
    const fn = (typeof first === 'function' ? first : second) as (scope: ConsistencyScope) => T | Promise<T>
    if (typeof fn !== 'function') return Promise.reject(new DbInvalidArgumentError('withConsistency needs a function'))
    const { scopes, settings } = this.#cluster
    let lsn = 0n
    try {
      if (typeof first === 'string') lsn = decodeToken(first, settings.consistency.secret)
      else if (typeof first !== 'function' && first !== undefined && first !== null) throw new DbInvalidArgumentError('a consistency token must be a string')
    } catch (error) {
      return Promise.reject(asError(error))
    }
    const parent = scopes.getStore()
    const scope = new Scope(parent !== undefined && parent.lsn > lsn ? parent.lsn : lsn, parent)
    const view: ConsistencyScope = { token: () => this.#token(scope) }
    return scopes.run(scope, async () => fn(view))
  }

  consistencyToken(): string | undefined {
    const scope = this.#cluster.scopes.getStore()
    return scope === undefined ? undefined : this.#token(scope)
  }

  isValidToken(token: string): boolean {
    try {
      decodeToken(token, this.#cluster.settings.consistency.secret)
      return true
    } catch {
      return false
    }
  }

  status(): RouterStatus {
    return { primary: statusOf(this.#cluster.primary), replicas: this.#cluster.replicas.map(statusOf) }
  }

  async checkHealth(): Promise<RouterStatus> {
    this.#cluster.enter()
    await this.#health.checkNow()
    return this.status()
  }

  async close(deadlineMs = 5000): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#health.stop()
    if (this.#active > 0) {
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>((resolve) => {
        this.#idle = resolve
        timer = setTimeout(resolve, deadlineMs)
      })
      this.#idle = undefined
      clearTimeout(timer)
    }
    const { primary, replicas } = this.#cluster
    await Promise.allSettled([primary, ...replicas].map((n) => n.close()))
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  #token(scope: Scope): string | undefined {
    return scope.lsn > 0n ? encodeToken(scope.lsn, this.#cluster.settings.consistency.secret) : undefined
  }

  /** `pg_proc` on the primary; on a replica (same catalog) when the primary cannot answer, so reads keep being classified. */
  async #lookupFunctions(names: readonly string[]): Promise<readonly FunctionRow[]> {
    const { primary, replicas, settings } = this.#cluster
    const nodes = [primary, ...replicas.filter((n) => n.usable)].filter((n) => !n.breakerOpen)
    let lastError: unknown = new Error('no node to look functions up on')
    for (const node of nodes) {
      try {
        return await timedQuery<{ name: string; schema: string; volatility: string }>(node.dispatcher, FUNCTION_SQL, [names], settings.health.timeout)
      } catch (error) {
        lastError = error
      }
    }
    throw lastError
  }

  /** Counts a call in flight (what `close()` waits for); throws `ERR_DB_CLOSED` once closed. */
  #enter(): void {
    if (this.#closed) throw new DbClosedError('the router is closed')
    this.#start()
    this.#active += 1
  }

  #leave(): void {
    this.#active -= 1
    if (this.#active === 0) this.#idle?.()
  }

  async #track<T>(fn: () => Promise<T>): Promise<T> {
    this.#enter()
    try {
      return await fn()
    } finally {
      this.#leave()
    }
  }

  #start(): void {
    if (this.#started) return
    this.#started = true
    this.#health.start()
  }

  #handle(node: Node): NodeHandle {
    const cluster = this.#cluster
    const query = <R extends QueryResultRow>(first: unknown, second?: unknown, third?: unknown): Promise<QueryResult<R>> =>
      this.#track(async () => {
        const config = normalizeQueryArgs(first, second, third, cluster.settings.timeouts.query)
        const decision = cluster.classifier.cached(config.text) ?? (await cluster.classifier.classify(config.text))
        if (node.role === 'primary') return runOnPrimary<R>(cluster, config, decision, 'override')
        if (decision.target === 'primary' && !Classifier.overridable(decision)) {
          throw new DbWriteOnReplicaError(`refusing to send a write (${decision.reason}) to replica ${node.name}`)
        }
        return sendTo<R>(node, config, 'override', decision, 1)
      })
    return { name: node.name, role: node.role, query, status: () => statusOf(node) }
  }
}

function statusOf(node: Node): NodeStatus {
  return {
    name: node.name,
    role: node.role,
    state: node.state,
    usable: node.usable,
    breakerOpen: node.breakerOpen,
    replayLsn: formatLsn(node.replayLsn),
    lagBytes: node.lagBytes,
    lagSeconds: node.lagSeconds,
    outstanding: node.outstanding,
    ewmaMs: node.ewmaMs,
    weight: node.weight,
  }
}

/** A classified statement to its node: the role asked for, else the decision's. */
function dispatch<R extends QueryResultRow>(cluster: Cluster, config: TimedQueryConfig, role: 'primary' | 'replica' | undefined, decision: Decision): Promise<QueryResult<R>> {
  if (role === 'primary') return runOnPrimary<R>(cluster, config, decision, 'override')
  if (role === 'replica') {
    if (decision.target === 'primary' && !Classifier.overridable(decision)) {
      return Promise.reject(new DbWriteOnReplicaError(`refusing to send a write (${decision.reason}) to a replica`))
    }
    return runRead<R>(cluster, config, decision, 'override')
  }
  return decision.target === 'primary' ? runWrite<R>(cluster, config, decision, 'write') : runRead<R>(cluster, config, decision, 'read')
}
