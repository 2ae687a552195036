import { subscribe, tracingChannel, unsubscribe } from 'node:diagnostics_channel'
import { performance } from 'node:perf_hooks'
import { channelName } from '@scalekit/internal'
import { ObservabilityOptionsError } from './errors'
import { authMetrics, breakerMetrics, cacheMetrics, dbMetrics, queueMetrics } from './metrics/definitions'
import { type Metrics, metricsInternals } from './metrics/metrics'
import { boundedCounter, boundedGauge, boundedHistogram, label } from './internal/series'

/** The scalekit packages whose channels {@link instrumentScalekit} can read. */
export type ScalekitPackage = 'cache' | 'db-router' | 'queue' | 'session' | 'ratelimit' | 'breaker'

/** Every package {@link instrumentScalekit} reads by default. */
export const SCALEKIT_PACKAGES: readonly ScalekitPackage[] = [
  'cache',
  'db-router',
  'queue',
  'session',
  'ratelimit',
  'breaker',
]

/** The pool of one database node, as a db-router's `health()` reports it. */
export interface DbPoolHealth {
  /** Connections open or being opened. */
  readonly total: number
  /** Open connections not checked out. */
  readonly idle: number
  /** Checkouts queued for a connection. */
  readonly waiting: number
  /** The most connections the pool opens. */
  readonly max: number
}

/** One node of a {@link DbPoolSource}'s health: its name and its pool. */
export interface DbNodePoolHealth {
  readonly name: string
  readonly pool?: DbPoolHealth | undefined
}

/** The part of a router's `health()` the pool gauges read: its nodes, or its shards' (a sharded router). */
export interface DbPoolSourceHealth {
  readonly primary?: DbNodePoolHealth | undefined
  readonly replicas?: readonly DbNodePoolHealth[] | undefined
  /** A sharded router's: each shard's health, its pools labelled `<shard>/<node>`. */
  readonly shards?: Readonly<Record<string, DbPoolSourceHealth>> | undefined
}

/**
 * What the pool gauges read from a database router: its synchronous `health()` snapshot — a
 * `@scalekit/db-router` router or sharded router is one (a structural type: this package does not
 * depend on it).
 */
export interface DbPoolSource {
  health(): DbPoolSourceHealth
}

/** Options of {@link instrumentScalekit}. */
export interface InstrumentScalekitOptions {
  /** Where the metrics go. Required. */
  metrics: Metrics
  /** Which packages to read. @default every one ({@link SCALEKIT_PACKAGES}) */
  packages?: readonly ScalekitPackage[]
  /**
   * Database routers whose node pools are read at each scrape into `db_client_connection_count`
   * (`used`/`idle`), `db_client_connection_max` and `db_client_connection_pending_requests`, labelled
   * by node name — the database-load signal of the pool saturation alert. A router whose `health()`
   * throws (closed) is skipped.
   * @default []
   */
  dbRouters?: readonly DbPoolSource[]
}

/** The subscriptions of {@link instrumentScalekit}. */
export interface ScalekitInstrumentation {
  /** Unsubscribes from every channel (metrics already recorded stay). */
  close(): void
}

type Payload = Readonly<Record<string, unknown>>
type Unsubscribe = () => void

function onEvent(name: string, handler: (payload: Payload) => void): Unsubscribe {
  const listener = (message: unknown): void => {
    if (typeof message === 'object' && message !== null) handler(message as Payload)
  }
  subscribe(name, listener)
  return () => {
    unsubscribe(name, listener)
  }
}

/**
 * Calls `done(context, seconds, failed)` when an operation traced on `name` ends, whether it was
 * traced with `tracePromise` (asyncEnd) or `traceSync` (end, with `result` or `error` set).
 */
function onTraced(
  name: string,
  done: (context: Payload, seconds: number, failed: boolean) => void,
): Unsubscribe {
  const starts = new WeakMap<object, number>()
  const failed = new WeakSet<object>()
  const finish = (context: object): void => {
    const start = starts.get(context)
    if (start === undefined) return
    starts.delete(context)
    done(context as Payload, (performance.now() - start) / 1000, failed.has(context))
  }
  const handlers = {
    start(context: object) {
      starts.set(context, performance.now())
    },
    end(context: object) {
      if ('result' in context || 'error' in context) finish(context)
    },
    asyncStart() {
      // asyncEnd follows at once.
    },
    asyncEnd(context: object) {
      finish(context)
    },
    error(context: object) {
      failed.add(context)
    },
  }
  const ch = tracingChannel(name)
  ch.subscribe(handlers)
  return () => {
    ch.unsubscribe(handlers)
  }
}

function cache(metrics: ReturnType<typeof metricsInternals>): Unsubscribe[] {
  const gets = boundedCounter(metrics, cacheMetrics.gets)
  const duration = boundedHistogram(metrics, cacheMetrics.getDuration)
  const writes = boundedCounter(metrics, cacheMetrics.writes)
  const lock = boundedCounter(metrics, cacheMetrics.lock)
  const errors = boundedCounter(metrics, cacheMetrics.errors)
  const flushes = boundedCounter(metrics, cacheMetrics.writeBehindFlushes)
  const deadLetters = boundedCounter(metrics, cacheMetrics.writeBehindDeadLetters)
  const write = (c: Payload): void => {
    writes([label(c.namespace, 'default'), label(c.operation, 'unknown')])
  }
  return [
    onTraced(channelName('cache', 'get'), (c, seconds, failed) => {
      const namespace = label(c.namespace, 'default')
      gets([namespace, label(c.tier, 'none'), failed ? 'error' : label(c.outcome, 'unknown')])
      duration([namespace, label(c.operation, 'get')], seconds)
    }),
    onTraced(channelName('cache', 'set'), write),
    onTraced(channelName('cache', 'delete'), write),
    onEvent(channelName('cache', 'lock'), (e) => {
      lock([label(e.namespace, 'default'), label(e.event, 'unknown')])
    }),
    onEvent(channelName('cache', 'error'), (e) => {
      errors([label(e.namespace, 'default'), label(e.tier, 'unknown'), label(e.code, 'unknown')])
    }),
    onEvent(channelName('cache', 'write-behind:flush'), (e) => {
      flushes([label(e.namespace, 'default'), label(e.queue, 'default'), e.ok === true ? 'ok' : 'error'])
    }),
    onEvent(channelName('cache', 'write-behind:dead-letter'), (e) => {
      deadLetters(
        [label(e.namespace, 'default'), label(e.queue, 'default')],
        typeof e.size === 'number' ? e.size : 1,
      )
    }),
  ]
}

const BREAKER_STATES: Readonly<Record<string, number>> = { closed: 0, 'half-open': 1, open: 2 }

function breaker(metrics: ReturnType<typeof metricsInternals>): Unsubscribe[] {
  const state = boundedGauge(metrics, breakerMetrics.state)
  const transitions = boundedCounter(metrics, breakerMetrics.transitions)
  return [
    onEvent(channelName('breaker', 'state'), (e) => {
      const value = typeof e.state === 'string' ? BREAKER_STATES[e.state] : undefined
      if (value === undefined) return
      const pkg = label(e.package, 'unknown')
      const namespace = label(e.namespace, 'default')
      state([pkg, namespace], value)
      transitions([pkg, namespace, e.state as string])
    }),
  ]
}

function db(metrics: ReturnType<typeof metricsInternals>): Unsubscribe[] {
  const duration = boundedHistogram(metrics, dbMetrics.operationDuration)
  const lagSeconds = boundedGauge(metrics, dbMetrics.replicaLagSeconds)
  const lagBytes = boundedGauge(metrics, dbMetrics.replicaLagBytes)
  const fallbacks = boundedCounter(metrics, dbMetrics.fallbacks)
  const up = boundedGauge(metrics, dbMetrics.nodeUp)
  const changes = boundedCounter(metrics, dbMetrics.nodeStateChanges)
  return [
    onTraced(channelName('db-router', 'query'), (c, seconds, failed) => {
      const outcome = failed || typeof c.errorCode === 'string' ? 'error' : 'ok'
      duration(
        [label(c.role, 'unknown'), label(c.node, 'unknown'), label(c.reason, 'unknown'), outcome],
        typeof c.durationMs === 'number' ? c.durationMs / 1000 : seconds,
      )
    }),
    onEvent(channelName('db-router', 'lag'), (e) => {
      const node = label(e.node, 'unknown')
      if (typeof e.lagSeconds === 'number') lagSeconds([node], e.lagSeconds)
      if (typeof e.lagBytes === 'number') lagBytes([node], e.lagBytes)
    }),
    onEvent(channelName('db-router', 'fallback'), (e) => {
      fallbacks([label(e.reason, 'unknown'), label(e.outcome, 'unknown')])
    }),
    onEvent(channelName('db-router', 'node-state'), (e) => {
      const node = label(e.node, 'unknown')
      const to = label(e.to, 'unknown')
      up([node, label(e.role, 'unknown')], to === 'up' || to === 'promoted' ? 1 : 0)
      changes([node, to])
    }),
  ]
}

function queue(metrics: ReturnType<typeof metricsInternals>): Unsubscribe[] {
  const publish = boundedHistogram(metrics, queueMetrics.publishDuration)
  const process = boundedHistogram(metrics, queueMetrics.processDuration)
  const latency = boundedHistogram(metrics, queueMetrics.deliveryLatency)
  const retries = boundedCounter(metrics, queueMetrics.retries)
  const deadLetters = boundedCounter(metrics, queueMetrics.deadLetters)
  const depth = boundedGauge(metrics, queueMetrics.depth)
  const consumers = boundedGauge(metrics, queueMetrics.consumers)
  const connection = boundedCounter(metrics, queueMetrics.connectionEvents)
  return [
    onTraced(channelName('queue', 'publish'), (c, seconds, failed) => {
      publish([label(c.type, 'unknown'), failed || typeof c.code === 'string' ? 'error' : 'ok'], seconds)
    }),
    onTraced(channelName('queue', 'consume'), (c, seconds, failed) => {
      const type = label(c.type, 'unknown')
      const group = label(c.group, 'unknown')
      const outcome = label(c.outcome, failed ? 'error' : 'unknown')
      process([type, group, outcome], seconds)
      if (typeof c.latencyMs === 'number' && c.latencyMs >= 0) latency([type, group], c.latencyMs / 1000)
      if (outcome === 'retry') retries([type, group])
    }),
    onEvent(channelName('queue', 'dead-letter'), (e) => {
      deadLetters([label(e.type, 'unknown'), label(e.group, 'unknown'), label(e.reason, 'unknown')])
    }),
    onEvent(channelName('queue', 'depth'), (e) => {
      const labels = [label(e.type, 'unknown'), label(e.group, 'unknown')]
      if (typeof e.messages === 'number') depth(labels, e.messages)
      if (typeof e.consumers === 'number') consumers(labels, e.consumers)
    }),
    onEvent(channelName('queue', 'connection'), (e) => {
      connection([label(e.event, 'unknown')])
    }),
  ]
}

function session(metrics: ReturnType<typeof metricsInternals>): Unsubscribe[] {
  const verifications = boundedCounter(metrics, authMetrics.sessionVerifications)
  const refreshes = boundedCounter(metrics, authMetrics.sessionRefreshes)
  const events = boundedCounter(metrics, authMetrics.sessionEvents)
  const event = (name: string): Unsubscribe =>
    onEvent(channelName('session', name), () => {
      events([name])
    })
  return [
    onEvent(channelName('session', 'verify'), (e) => {
      verifications([label(e.kind, 'unknown'), label(e.outcome, 'unknown'), label(e.reason, 'none')])
    }),
    onEvent(channelName('session', 'api-key'), (e) => {
      verifications(['api-key', label(e.outcome, 'unknown'), label(e.reason, 'none')])
    }),
    onEvent(channelName('session', 'refresh'), (e) => {
      refreshes([label(e.outcome, 'unknown'), label(e.reason, 'none')])
    }),
    ...['issue', 'create', 'regenerate', 'destroy', 'revoke', 'reuse'].map(event),
  ]
}

function ratelimit(metrics: ReturnType<typeof metricsInternals>): Unsubscribe[] {
  const decisions = boundedCounter(metrics, authMetrics.ratelimitDecisions)
  const errors = boundedCounter(metrics, authMetrics.ratelimitErrors)
  const decision = (outcome: 'allowed' | 'limited'): Unsubscribe =>
    onEvent(channelName('ratelimit', outcome), (e) => {
      decisions([label(e.limiter, 'default'), outcome, label(e.source, 'unknown')])
    })
  return [
    decision('allowed'),
    decision('limited'),
    onEvent(channelName('ratelimit', 'error'), (e) => {
      errors([label(e.limiter, 'default'), label(e.reason, 'unknown'), label(e.policy, 'unknown')])
    }),
  ]
}

/** The node pools of one health snapshot (a shard's nodes named `<shard>/<node>`), skipping nodes without numbers. */
function* poolsOf(health: DbPoolSourceHealth, prefix: string): Generator<readonly [string, DbPoolHealth]> {
  for (const node of [health.primary, ...(health.replicas ?? [])]) {
    const pool = node?.pool
    if (
      node !== undefined &&
      pool !== undefined &&
      [pool.total, pool.idle, pool.waiting, pool.max].every((n) => typeof n === 'number' && n >= 0)
    )
      yield [label(`${prefix}${node.name}`, 'unknown'), pool]
  }
  for (const [shard, each] of Object.entries(health.shards ?? {})) yield* poolsOf(each, `${prefix}${shard}/`)
}

/** Every node pool of `routers` now, skipping a router whose health() throws (closed). */
function* nodePools(routers: readonly DbPoolSource[]): Generator<readonly [string, DbPoolHealth]> {
  for (const router of routers) {
    let health: DbPoolSourceHealth
    try {
      health = router.health()
    } catch {
      continue
    }
    yield* poolsOf(health, '')
  }
}

function dbPools(
  metrics: ReturnType<typeof metricsInternals>,
  routers: readonly DbPoolSource[],
): Unsubscribe[] {
  if (routers.length === 0) return []
  return [
    metrics.gaugeSource(dbMetrics.poolConnections, function* () {
      for (const [name, pool] of nodePools(routers)) {
        yield [[name, 'used'], Math.max(0, pool.total - pool.idle)] as const
        yield [[name, 'idle'], pool.idle] as const
      }
    }),
    metrics.gaugeSource(dbMetrics.poolMax, function* () {
      for (const [name, pool] of nodePools(routers)) yield [[name], pool.max] as const
    }),
    metrics.gaugeSource(dbMetrics.poolPending, function* () {
      for (const [name, pool] of nodePools(routers)) yield [[name], pool.waiting] as const
    }),
  ]
}

const READERS: Readonly<
  Record<ScalekitPackage, (metrics: ReturnType<typeof metricsInternals>) => Unsubscribe[]>
> = {
  cache,
  'db-router': db,
  queue,
  session,
  ratelimit,
  breaker,
}

/**
 * Turns the diagnostics channels of every scalekit package into metrics — whichever of them the app
 * installed: this package depends on none of them, and a channel nobody publishes on costs nothing.
 * Give it your database routers and their pools are read at each scrape as well.
 *
 * ```ts
 * const scalekit = instrumentScalekit({ metrics, dbRouters: [db] })
 * ```
 */
export function instrumentScalekit(options: InstrumentScalekitOptions): ScalekitInstrumentation {
  const given: unknown = options
  if (typeof given !== 'object' || given === null || (options.metrics as unknown) === undefined)
    throw new ObservabilityOptionsError('instrumentScalekit() takes { metrics } (from createMetrics())')
  const impl = metricsInternals(options.metrics)
  const packages: unknown = options.packages ?? SCALEKIT_PACKAGES
  const known = (p: unknown): p is ScalekitPackage => typeof p === 'string' && p in READERS
  if (!Array.isArray(packages) || !packages.every(known))
    throw new ObservabilityOptionsError(`packages must be a list of ${SCALEKIT_PACKAGES.join(', ')}`)
  const routers: unknown = options.dbRouters ?? []
  if (
    !Array.isArray(routers) ||
    !routers.every(
      (r) => typeof r === 'object' && r !== null && typeof (r as { health?: unknown }).health === 'function',
    )
  )
    throw new ObservabilityOptionsError('dbRouters must be a list of database routers (with health())')
  const unsubscribes = [
    ...[...new Set<ScalekitPackage>(packages)].flatMap((p) => READERS[p](impl)),
    ...dbPools(impl, routers as DbPoolSource[]),
  ]
  let open = true
  return {
    close() {
      if (!open) return
      open = false
      for (const unsubscribe of unsubscribes) unsubscribe()
    },
  }
}
