import { CloseGate, withTimeout } from '@scalekit/internal'
import type { CloseOptions, HealthStatus } from '@scalekit/internal'
import type { Pool, PoolClient, QueryResult, QueryResultRow } from 'pg'
import { createBalancer } from './balancing'
import { Classifier } from './classify/classifier'
import type { Decision, FunctionRow } from './classify/classifier'
import { LSN_SQL, lsnOf } from './consistency/capture'
import { createScopeStorage, Scope } from './consistency/scope'
import { ReplayTracker } from './consistency/replay'
import { SessionCaptures } from './consistency/sessions'
import { decodeToken, encodeToken } from './consistency/token'
import {
  DbRouterArgumentError,
  DbRouterClosedError,
  DbRouterOptionsError,
  DbWriteOnReplicaError,
} from './errors'
import { RateBudget } from './internal/budget'
import { formatLsn } from './internal/lsn'
import { asError } from './internal/pg-errors'
import { normalizeQueryArgs, roleOf, TextQuery } from './internal/query-args'
import type { TimedQueryConfig } from './internal/query-args'
import { sourceOfReplica } from './internal/replica-input'
import { timedQuery } from './nodes/dispatcher'
import { HealthMonitor } from './nodes/health'
import { Node } from './nodes/node'
import { isPool, openPool } from './nodes/pools'
import type { DbRouterOptions } from './options'
import { resolveOptions } from './options'
import type { Cluster } from './routing/cluster'
import { runOnPrimary, runWrite } from './routing/primary'
import { runRead } from './routing/read'
import { connectSession, runTransaction } from './routing/session'
import { sendTo } from './routing/trace'
import { Trouble } from './trouble'
import type {
  ConsistencyScope,
  DbRouter,
  DbRouterHealth,
  NodeHandle,
  NodeHealth,
  NodePoolHealth,
  TransactionClient,
  TransactionOptions,
} from './types'

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
  return new Router(options)
}

/** The implementation of {@link DbRouter}. */
class Router implements DbRouter {
  readonly primary: NodeHandle
  readonly replicas: readonly NodeHandle[]
  readonly #cluster: Cluster
  readonly #health: HealthMonitor
  /**
   * Calls in flight, and the wake-up of a `close()` waiting for them. A count, not a `Set` of the
   * calls: a long-lived `Set` with an add and a delete per call made V8 promote every call in flight
   * on each scavenge (benchmarks/README.md, db-router).
   */
  #inFlight = 0
  #idle: (() => void) | undefined
  #started = false
  readonly #gate: CloseGate = new CloseGate(DbRouterArgumentError, (timeoutMs) => this.#close(timeoutMs))

  constructor(options: DbRouterOptions) {
    if (typeof options !== 'object' || (options as unknown) === null)
      throw new DbRouterOptionsError('createDbRouter needs an options object')
    const settings = resolveOptions(options)
    const source: unknown = options.primary
    if (!(typeof source === 'string' || isPool(source) || (typeof source === 'object' && source !== null))) {
      throw new DbRouterOptionsError('primary must be a connection URL, a pg.Pool or a PoolConfig')
    }
    const inputs: unknown = options.replicas ?? []
    if (!Array.isArray(inputs)) throw new DbRouterOptionsError('replicas must be an array')
    const replicaSources = (options.replicas ?? []).map((input, i) => sourceOfReplica(input, i))
    if (replicaSources.some((r) => r.source === options.primary)) {
      throw new DbRouterOptionsError(
        'a replica cannot be the primary itself (its sessions are made read-only)',
      )
    }
    const names = new Set(['primary', ...replicaSources.map((r) => r.name)])
    if (names.size !== replicaSources.length + 1)
      throw new DbRouterOptionsError('replica names must be unique and not "primary"')
    const { breaker, timeouts } = settings
    const trouble = new Trouble(options.logger)
    const primary = new Node({
      name: 'primary',
      role: 'primary',
      pool: openPool(options.primary, false, timeouts),
      weight: 1,
      breaker,
      timeouts,
      trouble,
    })
    const replicas = replicaSources.map(
      ({ source: s, weight, name }) =>
        new Node({
          name,
          role: 'replica',
          pool: openPool(s, true, timeouts),
          weight,
          breaker,
          timeouts,
          trouble,
        }),
    )
    const c = settings.classification
    const classifier = new Classifier({
      readFunctions: c.readFunctions,
      writeFunctions: c.writeFunctions,
      cacheSize: c.cacheSize,
      lookup: c.lookupFunctions ? (list) => this.#lookupFunctions(list) : undefined,
    })
    const replay = new ReplayTracker(primary, settings, trouble)
    const capture = async (): Promise<bigint> =>
      lsnOf(await primary.dispatcher.query(new TextQuery(LSN_SQL, undefined, timeouts.query), timeouts.query))
    this.#cluster = {
      primary,
      replicas,
      settings,
      classifier,
      balance: createBalancer<Node>(settings.balance),
      budget: new RateBudget(settings.fallback.maxPerSecond),
      scopes: createScopeStorage(),
      probes: new Map(),
      sessions: new SessionCaptures(primary.pool, capture),
      replay,
      trouble,
      start: () => {
        this.#start()
      },
      calls: {
        enter: () => {
          this.#inFlight += 1
        },
        leave: () => {
          this.#leave()
        },
      },
    }
    this.#health = new HealthMonitor(primary, replicas, settings.health, replay.history)
    this.primary = this.#handle(primary)
    this.replicas = replicas.map((n) => this.#handle(n))
  }

  /**
   * Where a statement goes: the arguments checked, the statement classified (cached by text), then
   * routed. The routing function that settles the call counts it in flight (`cluster.calls`, what
   * `close()` waits for) in its own `async` body: a read is that one `async` function and the
   * dispatcher's promise. A caller's mistake is a rejection, never a throw.
   */
  query<R extends QueryResultRow = QueryResultRow>(
    first: unknown,
    second?: unknown,
    third?: unknown,
  ): Promise<QueryResult<R>> {
    try {
      this.#admit()
      const cluster = this.#cluster
      const config = normalizeQueryArgs(first, second, third, cluster.settings.timeouts.query)
      const role = roleOf(second, third)
      const decision = cluster.classifier.cached(config.text)
      if (decision !== undefined) return dispatch<R>(cluster, config, role, decision)
      // Not classified yet: counted while it is.
      return this.#track(async () =>
        dispatch<R>(cluster, config, role, await cluster.classifier.classify(config.text)),
      )
    } catch (error) {
      return Promise.reject(asError(error))
    }
  }

  ready(): Promise<void> {
    return this.#cluster.classifier.ready()
  }

  transaction<T>(fn: (tx: TransactionClient) => Promise<T>, options: TransactionOptions = {}): Promise<T> {
    if (typeof fn !== 'function')
      return Promise.reject(new DbRouterArgumentError('transaction needs a function'))
    return this.#track(() => runTransaction(this.#cluster, fn, options))
  }

  connect(): Promise<PoolClient> {
    return this.#track(() => connectSession(this.#cluster))
  }

  withConsistency<T>(first: unknown, second?: unknown): Promise<T> {
    const fn = (typeof first === 'function' ? first : second) as (scope: ConsistencyScope) => T | Promise<T>
    if (typeof fn !== 'function')
      return Promise.reject(new DbRouterArgumentError('withConsistency needs a function'))
    const { scopes, settings } = this.#cluster
    let lsn = 0n
    try {
      if (typeof first === 'string') lsn = decodeToken(first, settings.consistency.secret)
      else if (typeof first !== 'function' && first !== undefined && first !== null)
        throw new DbRouterArgumentError('a consistency token must be a string')
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new DbRouterArgumentError(String(error)))
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

  health(): DbRouterHealth {
    const { primary, replicas } = this.#cluster
    return { status: this.#status(), primary: healthOf(primary), replicas: replicas.map(healthOf) }
  }

  /** After `close()`, the snapshot (status `closed`) without checking anything. */
  async checkHealth(): Promise<DbRouterHealth> {
    if (!this.#gate.closed) {
      this.#start()
      await this.#health.checkNow()
    }
    return this.health()
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #close(timeout: number): Promise<void> {
    const started = performance.now()
    await this.#health.stop()
    const left = Math.max(0, timeout - (performance.now() - started))
    if (this.#inFlight > 0) {
      const idle = new Promise<void>((resolve) => {
        this.#idle = resolve
      })
      await withTimeout(idle, left, () => new DbRouterClosedError('close() timed out')).catch(() => undefined)
      this.#idle = undefined
    }
    const { primary, replicas, sessions } = this.#cluster
    const nodes = [primary, ...replicas]
    // What is still in flight is given up on: its connections are closed, so the pools can end.
    const closed = new DbRouterClosedError(
      `the router was closed; the call did not finish within close()'s timeout (${timeout} ms)`,
    )
    for (const node of nodes) node.dispatcher.abort(closed)
    sessions.close()
    await Promise.allSettled(nodes.map((n) => n.close()))
  }

  #status(): HealthStatus {
    if (this.#gate.closed) return 'closed'
    const { primary, replicas } = this.#cluster
    if (primary.state === 'down' || primary.breakerOpen) return 'down'
    if (primary.state !== 'up' || replicas.some((n) => !n.usable)) return 'degraded'
    return 'ok'
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
        return await timedQuery<{ name: string; schema: string; volatility: string }>(
          node.dispatcher,
          FUNCTION_SQL,
          [names],
          settings.health.timeout,
        )
      } catch (error) {
        lastError = error
      }
    }
    throw lastError
  }

  /** Runs a call counted in flight (what `close()` waits for); refused with `ERR_DB_CLOSED` once closed. */
  async #track<T>(call: () => Promise<T>): Promise<T> {
    this.#enter()
    try {
      return await call()
    } finally {
      this.#leave()
    }
  }

  /** Admits a call: refused with `ERR_DB_CLOSED` once closed; the first one starts the health checks. */
  #admit(): void {
    if (this.#gate.closed) throw new DbRouterClosedError('the router is closed')
    this.#start()
  }

  /** Admits a call and counts it in flight; {@link #leave} once it settled. */
  #enter(): void {
    this.#admit()
    this.#inFlight += 1
  }

  #leave(): void {
    this.#inFlight -= 1
    if (this.#inFlight === 0) this.#idle?.()
  }

  #start(): void {
    if (this.#started) return
    this.#started = true
    this.#health.start()
  }

  #handle(node: Node): NodeHandle {
    const cluster = this.#cluster
    const query = <R extends QueryResultRow>(
      first: unknown,
      second?: unknown,
      third?: unknown,
    ): Promise<QueryResult<R>> =>
      this.#track(async () => {
        const config = normalizeQueryArgs(first, second, third, cluster.settings.timeouts.query)
        const decision =
          cluster.classifier.cached(config.text) ?? (await cluster.classifier.classify(config.text))
        if (decision.transactionControl !== undefined) throw transactionControlRefused(decision)
        if (node.role === 'primary') return runOnPrimary<R>(cluster, config, decision, 'override')
        if (decision.target === 'primary' && !Classifier.overridable(decision)) {
          throw new DbWriteOnReplicaError(
            `refusing to send a write (${decision.reason}) to replica ${node.name}`,
          )
        }
        return sendTo<R>(node, config, 'override', decision, 1)
      })
    return { name: node.name, role: node.role, query, health: () => healthOf(node) }
  }
}

function healthOf(node: Node): NodeHealth {
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
    pool: poolHealthOf(node.pool),
  }
}

/** pg-pool's default size, which it fills in as `options.max` when none was given. */
const PG_DEFAULT_MAX = 10

function poolHealthOf(pool: Pool): NodePoolHealth {
  // A pool-like from another copy of pg is accepted by the members the router calls; its `options`
  // are read defensively so a snapshot never throws.
  const options = pool.options as { max?: number } | undefined
  return {
    total: pool.totalCount,
    idle: pool.idleCount,
    waiting: pool.waitingCount,
    max: options?.max ?? PG_DEFAULT_MAX,
  }
}

/**
 * `BEGIN`, `COMMIT`, `SAVEPOINT`… through `db.query()` would run on some pooled session and leave
 * it in (or take it out of) a transaction that the following calls, on other sessions or on that one,
 * know nothing about: refused before anything is sent, so no breaker counts it.
 */
function transactionControlRefused(decision: Decision): DbRouterArgumentError {
  return new DbRouterArgumentError(
    `db.query() refuses transaction control (${decision.transactionControl ?? 'unknown'}): on a pooled ` +
      'connection it would leave the session in a transaction no later call knows about; use db.transaction() ' +
      '(or a db.connect() session)',
  )
}

/** A classified statement to its node: the role asked for, else the decision's. Transaction control is refused. */
function dispatch<R extends QueryResultRow>(
  cluster: Cluster,
  config: TimedQueryConfig,
  role: 'primary' | 'replica' | undefined,
  decision: Decision,
): Promise<QueryResult<R>> {
  if (decision.transactionControl !== undefined) return Promise.reject(transactionControlRefused(decision))
  if (role === 'primary') return runOnPrimary<R>(cluster, config, decision, 'override')
  if (role === 'replica') {
    if (decision.target === 'primary' && !Classifier.overridable(decision)) {
      return Promise.reject(
        new DbWriteOnReplicaError(`refusing to send a write (${decision.reason}) to a replica`),
      )
    }
    return runRead<R>(cluster, config, decision, 'override')
  }
  return decision.target === 'primary'
    ? runWrite<R>(cluster, config, decision, 'write')
    : runRead<R>(cluster, config, decision, 'read')
}
