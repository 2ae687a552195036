/** The kind of a Prometheus metric. */
export type MetricKind = 'counter' | 'gauge' | 'histogram'

/**
 * One metric as data: what `createMetrics()` registers, what the README's reference table lists and
 * what the shipped alert rules and dashboard are generated from. Names follow the OpenTelemetry
 * semantic conventions in Prometheus form: base units in the name (`_seconds`, `_bytes`), `_total`
 * on counters.
 */
export interface MetricDefinition<L extends string = string> {
  readonly name: string
  readonly kind: MetricKind
  readonly help: string
  readonly labelNames: readonly L[]
  /** Histogram bucket upper bounds (seconds for durations). */
  readonly buckets?: readonly number[]
}

/**
 * Latency buckets in seconds: the OpenTelemetry recommendation for `http.server.request.duration`,
 * which holds every boundary the shipped alerts use (0.1, 0.25, 0.5, 1, 2.5, 5 s).
 */
export const DURATION_BUCKETS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
]

function define<const L extends string>(def: MetricDefinition<L>): MetricDefinition<L> {
  return def
}

/** HTTP server metrics (RED) of the Express middleware and the Fastify plugin. */
export const httpMetrics: {
  readonly requestDuration: MetricDefinition<
    'http_request_method' | 'http_route' | 'http_response_status_class'
  >
  readonly activeRequests: MetricDefinition<'http_request_method'>
  readonly shedRequests: MetricDefinition<'reason'>
} = {
  requestDuration: define({
    name: 'http_server_request_duration_seconds',
    kind: 'histogram',
    help: 'Duration of HTTP server requests (its _count is the request count), by method, route template and status class.',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_class'],
    buckets: DURATION_BUCKETS,
  }),
  activeRequests: define({
    name: 'http_server_active_requests',
    kind: 'gauge',
    help: 'HTTP server requests in flight, by method.',
    labelNames: ['http_request_method'],
  }),
  shedRequests: define({
    name: 'http_server_shed_requests_total',
    kind: 'counter',
    help: 'HTTP requests answered 503 by load shedding, by reason (event-loop-delay, heap).',
    labelNames: ['reason'],
  }),
}

/** Runtime metrics this package adds beside prom-client's default process metrics. */
export const runtimeMetrics: { readonly heapLimit: MetricDefinition<never> } = {
  heapLimit: define({
    name: 'nodejs_heap_size_limit_bytes',
    kind: 'gauge',
    help: 'The V8 heap size limit (--max-old-space-size), the denominator of heap use alerts.',
    labelNames: [],
  }),
}

/** The warning metric of the series budget. */
export const seriesOverflow: MetricDefinition<'metric'> = define({
  name: 'scalekit_observability_series_overflow_total',
  kind: 'counter',
  help: 'Observations folded into the overflow label set because their metric reached its series budget, by metric.',
  labelNames: ['metric'],
})

/** Metrics of `instrument()` and the `@timed()` / `@logged()` decorators. */
export const functionMetrics: {
  readonly duration: MetricDefinition<'function' | 'outcome'>
  readonly errors: MetricDefinition<'function' | 'error_code'>
  readonly active: MetricDefinition<'function'>
} = {
  duration: define({
    name: 'function_call_duration_seconds',
    kind: 'histogram',
    help: 'Duration of instrumented function calls (generators: first call to completion), by function and outcome (ok, error).',
    labelNames: ['function', 'outcome'],
    buckets: DURATION_BUCKETS,
  }),
  errors: define({
    name: 'function_call_errors_total',
    kind: 'counter',
    help: 'Instrumented function calls that threw or rejected, by function and error code.',
    labelNames: ['function', 'error_code'],
  }),
  active: define({
    name: 'function_calls_active',
    kind: 'gauge',
    help: 'Instrumented function calls in progress, by function.',
    labelNames: ['function'],
  }),
}

/** Metrics read from the diagnostics channels of @scalekit/cache. */
export const cacheMetrics: {
  readonly gets: MetricDefinition<'cache_namespace' | 'cache_tier' | 'cache_outcome'>
  readonly getDuration: MetricDefinition<'cache_namespace' | 'cache_operation'>
  readonly writes: MetricDefinition<'cache_namespace' | 'cache_operation'>
  readonly lock: MetricDefinition<'cache_namespace' | 'event'>
  readonly errors: MetricDefinition<'cache_namespace' | 'cache_tier' | 'error_code'>
  readonly writeBehindFlushes: MetricDefinition<'cache_namespace' | 'queue' | 'outcome'>
  readonly writeBehindDeadLetters: MetricDefinition<'cache_namespace' | 'queue'>
} = {
  gets: define({
    name: 'scalekit_cache_gets_total',
    kind: 'counter',
    help: 'Cache reads by namespace, answering tier (l1, l2, factory) and outcome (hit, miss, stale, coalesced: a stampede joined).',
    labelNames: ['cache_namespace', 'cache_tier', 'cache_outcome'],
  }),
  getDuration: define({
    name: 'scalekit_cache_operation_duration_seconds',
    kind: 'histogram',
    help: 'Duration of cache reads (get, getOrSet including the factory), by namespace and operation.',
    labelNames: ['cache_namespace', 'cache_operation'],
    buckets: DURATION_BUCKETS,
  }),
  writes: define({
    name: 'scalekit_cache_writes_total',
    kind: 'counter',
    help: 'Cache writes and deletes by namespace and operation (set, delete, invalidateTags, clear, writeThrough).',
    labelNames: ['cache_namespace', 'cache_operation'],
  }),
  lock: define({
    name: 'scalekit_cache_lock_events_total',
    kind: 'counter',
    help: 'Cross-instance stampede lock events by namespace and event (acquired, waited, released, lost, expired).',
    labelNames: ['cache_namespace', 'event'],
  }),
  errors: define({
    name: 'scalekit_cache_errors_total',
    kind: 'counter',
    help: 'Cache errors by namespace, tier (l1, l2, write-behind) and code.',
    labelNames: ['cache_namespace', 'cache_tier', 'error_code'],
  }),
  writeBehindFlushes: define({
    name: 'scalekit_cache_write_behind_flushes_total',
    kind: 'counter',
    help: 'Write-behind batches handed to the write function, by namespace, queue and outcome (ok, error).',
    labelNames: ['cache_namespace', 'queue', 'outcome'],
  }),
  writeBehindDeadLetters: define({
    name: 'scalekit_cache_write_behind_dead_letters_total',
    kind: 'counter',
    help: 'Write-behind entries given up after their attempts, by namespace and queue.',
    labelNames: ['cache_namespace', 'queue'],
  }),
}

/** The circuit breakers of every scalekit package (`scalekit:breaker:state`). */
export const breakerMetrics: {
  readonly state: MetricDefinition<'package' | 'namespace'>
  readonly transitions: MetricDefinition<'package' | 'namespace' | 'state'>
} = {
  state: define({
    name: 'scalekit_breaker_state',
    kind: 'gauge',
    help: 'Circuit breaker state by package and namespace: 0 closed, 1 half-open, 2 open.',
    labelNames: ['package', 'namespace'],
  }),
  transitions: define({
    name: 'scalekit_breaker_transitions_total',
    kind: 'counter',
    help: 'Circuit breaker state changes by package, namespace and the state entered.',
    labelNames: ['package', 'namespace', 'state'],
  }),
}

/** Metrics read from the diagnostics channels of @scalekit/db-router. */
export const dbMetrics: {
  readonly operationDuration: MetricDefinition<'db_role' | 'db_node' | 'db_route_reason' | 'outcome'>
  readonly replicaLagSeconds: MetricDefinition<'db_node'>
  readonly replicaLagBytes: MetricDefinition<'db_node'>
  readonly fallbacks: MetricDefinition<'reason' | 'outcome'>
  readonly nodeUp: MetricDefinition<'db_node' | 'db_role'>
  readonly nodeStateChanges: MetricDefinition<'db_node' | 'state'>
  readonly poolConnections: MetricDefinition<'db_client_connection_pool_name' | 'db_client_connection_state'>
  readonly poolMax: MetricDefinition<'db_client_connection_pool_name'>
  readonly poolPending: MetricDefinition<'db_client_connection_pool_name'>
} = {
  operationDuration: define({
    name: 'db_client_operation_duration_seconds',
    kind: 'histogram',
    help: 'Duration of database statements (one per attempt) by node role, node, routing reason and outcome (ok, error).',
    labelNames: ['db_role', 'db_node', 'db_route_reason', 'outcome'],
    buckets: DURATION_BUCKETS,
  }),
  replicaLagSeconds: define({
    name: 'scalekit_db_replica_lag_seconds',
    kind: 'gauge',
    help: 'Replication replay lag of each replica in seconds at its last health check (0 once it replayed everything).',
    labelNames: ['db_node'],
  }),
  replicaLagBytes: define({
    name: 'scalekit_db_replica_lag_bytes',
    kind: 'gauge',
    help: 'WAL bytes each replica had not replayed at its last health check.',
    labelNames: ['db_node'],
  }),
  fallbacks: define({
    name: 'scalekit_db_fallbacks_total',
    kind: 'counter',
    help: 'Reads that went to the primary instead of a replica (or failed for want of one), by reason and outcome.',
    labelNames: ['reason', 'outcome'],
  }),
  nodeUp: define({
    name: 'scalekit_db_node_up',
    kind: 'gauge',
    help: 'Whether each node takes its share of statements: 1 up, 0 lagging, down or read-only.',
    labelNames: ['db_node', 'db_role'],
  }),
  nodeStateChanges: define({
    name: 'scalekit_db_node_state_changes_total',
    kind: 'counter',
    help: 'Node state changes by node and the state entered.',
    labelNames: ['db_node', 'state'],
  }),
  // OpenTelemetry's db.client.connection.* pool metrics, read from the routers' health() at scrape time.
  poolConnections: define({
    name: 'db_client_connection_count',
    kind: 'gauge',
    help: 'Connections of each node pool by state: used (checked out) or idle.',
    labelNames: ['db_client_connection_pool_name', 'db_client_connection_state'],
  }),
  poolMax: define({
    name: 'db_client_connection_max',
    kind: 'gauge',
    help: 'The most connections each node pool opens.',
    labelNames: ['db_client_connection_pool_name'],
  }),
  poolPending: define({
    name: 'db_client_connection_pending_requests',
    kind: 'gauge',
    help: 'Checkouts waiting for a connection of each node pool: above 0, the pool is saturated.',
    labelNames: ['db_client_connection_pool_name'],
  }),
}

/** Metrics read from the diagnostics channels of @scalekit/queue. */
export const queueMetrics: {
  readonly publishDuration: MetricDefinition<'messaging_destination_name' | 'outcome'>
  readonly processDuration: MetricDefinition<
    'messaging_destination_name' | 'messaging_consumer_group_name' | 'outcome'
  >
  readonly deliveryLatency: MetricDefinition<'messaging_destination_name' | 'messaging_consumer_group_name'>
  readonly retries: MetricDefinition<'messaging_destination_name' | 'messaging_consumer_group_name'>
  readonly deadLetters: MetricDefinition<
    'messaging_destination_name' | 'messaging_consumer_group_name' | 'reason'
  >
  readonly depth: MetricDefinition<'messaging_destination_name' | 'messaging_consumer_group_name'>
  readonly consumers: MetricDefinition<'messaging_destination_name' | 'messaging_consumer_group_name'>
  readonly connectionEvents: MetricDefinition<'event'>
} = {
  publishDuration: define({
    name: 'messaging_client_operation_duration_seconds',
    kind: 'histogram',
    help: 'Duration of queue publishes, from call to broker confirm, by message type and outcome (ok, error).',
    labelNames: ['messaging_destination_name', 'outcome'],
    buckets: DURATION_BUCKETS,
  }),
  processDuration: define({
    name: 'messaging_process_duration_seconds',
    kind: 'histogram',
    help: 'Duration of message handling, from receipt to settlement, by message type, consumer group and outcome (ack, retry, dead-letter, duplicate, requeue).',
    labelNames: ['messaging_destination_name', 'messaging_consumer_group_name', 'outcome'],
    buckets: DURATION_BUCKETS,
  }),
  deliveryLatency: define({
    name: 'scalekit_queue_delivery_latency_seconds',
    kind: 'histogram',
    help: 'Publish-to-handle latency of consumed messages, by message type and consumer group.',
    labelNames: ['messaging_destination_name', 'messaging_consumer_group_name'],
    buckets: DURATION_BUCKETS,
  }),
  retries: define({
    name: 'scalekit_queue_retries_total',
    kind: 'counter',
    help: 'Deliveries that failed and were scheduled for another attempt, by message type and consumer group.',
    labelNames: ['messaging_destination_name', 'messaging_consumer_group_name'],
  }),
  deadLetters: define({
    name: 'scalekit_queue_dead_letters_total',
    kind: 'counter',
    help: 'Messages moved to a dead-letter queue, by message type, consumer group and reason.',
    labelNames: ['messaging_destination_name', 'messaging_consumer_group_name', 'reason'],
  }),
  depth: define({
    name: 'scalekit_queue_depth_messages',
    kind: 'gauge',
    help: 'Messages ready in each consumer group queue (the autoscaling signal), by message type and group.',
    labelNames: ['messaging_destination_name', 'messaging_consumer_group_name'],
  }),
  consumers: define({
    name: 'scalekit_queue_consumers',
    kind: 'gauge',
    help: 'Consumers attached to each group queue, all instances together.',
    labelNames: ['messaging_destination_name', 'messaging_consumer_group_name'],
  }),
  connectionEvents: define({
    name: 'scalekit_queue_connection_events_total',
    kind: 'counter',
    help: 'Queue connection events (connected, disconnected, reconnecting, blocked, consumer-attached…).',
    labelNames: ['event'],
  }),
}

/** Metrics read from the diagnostics channels of @scalekit/session and @scalekit/ratelimit. */
export const authMetrics: {
  readonly sessionVerifications: MetricDefinition<'kind' | 'outcome' | 'reason'>
  readonly sessionRefreshes: MetricDefinition<'outcome' | 'reason'>
  readonly sessionEvents: MetricDefinition<'event'>
  readonly ratelimitDecisions: MetricDefinition<'limiter' | 'outcome' | 'source'>
  readonly ratelimitErrors: MetricDefinition<'limiter' | 'reason' | 'policy'>
} = {
  sessionVerifications: define({
    name: 'scalekit_session_verifications_total',
    kind: 'counter',
    help: 'Token and API key verifications by kind (access, refresh, service, api-key), outcome (valid, refused) and reason of a refusal.',
    labelNames: ['kind', 'outcome', 'reason'],
  }),
  sessionRefreshes: define({
    name: 'scalekit_session_refreshes_total',
    kind: 'counter',
    help: 'Refresh token exchanges by outcome (rotated, grace, refused) and reason of a refusal.',
    labelNames: ['outcome', 'reason'],
  }),
  sessionEvents: define({
    name: 'scalekit_session_events_total',
    kind: 'counter',
    help: 'Session events: issue, create, regenerate, destroy, revoke, reuse (a retired refresh token presented).',
    labelNames: ['event'],
  }),
  ratelimitDecisions: define({
    name: 'scalekit_ratelimit_decisions_total',
    kind: 'counter',
    help: 'Rate limit decisions by limiter, outcome (allowed, limited) and source (store, fast-path, fail-open, fail-closed, local).',
    labelNames: ['limiter', 'outcome', 'source'],
  }),
  ratelimitErrors: define({
    name: 'scalekit_ratelimit_errors_total',
    kind: 'counter',
    help: 'Rate limit decisions Redis failed (the policy decided instead), by limiter, reason and policy.',
    labelNames: ['limiter', 'reason', 'policy'],
  }),
}

/** Every metric this package defines (the process metrics of prom-client aside), for tables, rules and dashboards. */
export const metricDefinitions: readonly MetricDefinition[] = [
  ...Object.values(httpMetrics),
  ...Object.values(runtimeMetrics),
  seriesOverflow,
  ...Object.values(functionMetrics),
  ...Object.values(cacheMetrics),
  ...Object.values(breakerMetrics),
  ...Object.values(dbMetrics),
  ...Object.values(queueMetrics),
  ...Object.values(authMetrics),
]
