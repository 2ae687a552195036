import {
  breakerMetrics,
  dbMetrics,
  httpMetrics,
  queueMetrics,
  runtimeMetrics,
  seriesOverflow,
} from '../metrics/definitions'

/** The thresholds of the shipped alerts: the classic scale-out triggers. */
export interface AlertThresholds {
  /** CPU time per second of one process (1 = one core busy). @default 0.7 */
  cpu?: number
  /** Used heap over the heap limit. @default 0.8 */
  heap?: number
  /** p95 HTTP latency, seconds (a bucket boundary: 0.1, 0.25, 0.5, 1, 2.5 or 5). @default 0.5 */
  latencyP95?: number
  /** Share of 5xx responses. @default 0.05 */
  serverErrorRatio?: number
  /** Share of 4xx responses. @default 0.25 */
  clientErrorRatio?: number
  /** Replica replay lag, seconds. @default 10 */
  replicaLagSeconds?: number
  /** p95 database statement duration, seconds. @default 0.25 */
  dbLatencyP95?: number
  /** Share of a node pool's connections checked out (used / max) that counts as saturated. @default 0.9 */
  poolUsage?: number
  /** Queue depth over which a still-growing queue alerts. @default 1000 */
  queueDepth?: number
  /** p99 event-loop delay, seconds. @default 0.2 */
  eventLoopDelay?: number
  /** How long a condition must hold before it fires. @default '10m' */
  for?: string
}

/** The defaults of {@link AlertThresholds}. */
export const alertDefaults: Required<AlertThresholds> = {
  cpu: 0.7,
  heap: 0.8,
  latencyP95: 0.5,
  serverErrorRatio: 0.05,
  clientErrorRatio: 0.25,
  replicaLagSeconds: 10,
  dbLatencyP95: 0.25,
  poolUsage: 0.9,
  queueDepth: 1000,
  eventLoopDelay: 0.2,
  for: '10m',
}

/** A Prometheus rule: recording (`record`) or alerting (`alert`). */
export interface PrometheusRule {
  readonly record?: string
  readonly alert?: string
  readonly expr: string
  readonly for?: string
  readonly labels?: Readonly<Record<string, string>>
  readonly annotations?: Readonly<Record<string, string>>
}

/** A Prometheus rule file. */
export interface PrometheusRuleFile {
  readonly groups: readonly { readonly name: string; readonly rules: readonly PrometheusRule[] }[]
}

const http = httpMetrics.requestDuration.name
const db = dbMetrics.operationDuration.name
const pool = 'job, instance, db_client_connection_pool_name'

/** The recording rules, named `level:metric:operations` as Prometheus recommends. */
export const RECORDED = {
  requestRate: 'http_route:http_server_requests:rate5m',
  latencyP95: 'http_route:http_server_request_duration_seconds:p95_5m',
  serverErrorRatio: 'job:http_server_5xx_ratio:rate5m',
  clientErrorRatio: 'job:http_server_4xx_ratio:rate5m',
  cpu: 'instance:process_cpu_seconds:rate5m',
  heap: 'instance:nodejs_heap_used_ratio',
  dbLatencyP95: 'db_node:db_client_operation_duration_seconds:p95_5m',
  poolUsage: 'db_client_connection_pool_name:db_client_connection_usage:ratio',
  queueGrowth: 'messaging_consumer_group_name:scalekit_queue_depth_messages:deriv10m',
} as const

/**
 * The shipped rule file, generated from the metric definitions: recording rules for the scaling
 * signals and alerts on the classic scale-out triggers (CPU, memory, p95 latency, 4xx/5xx spikes,
 * replica lag, database latency, pool saturation, queue depth growing, breaker open, event-loop delay,
 * cardinality).
 */
export function prometheusRules(thresholds: AlertThresholds = {}): PrometheusRuleFile {
  const t = { ...alertDefaults, ...thresholds }
  const alert = (
    name: string,
    expr: string,
    summary: string,
    severity: 'warning' | 'critical',
    forDuration: string = t.for,
  ): PrometheusRule => ({
    alert: name,
    expr,
    for: forDuration,
    labels: { severity },
    annotations: { summary },
  })
  return {
    groups: [
      {
        name: 'scalekit-recording',
        rules: [
          {
            record: RECORDED.requestRate,
            expr: `sum by (job, http_route, http_response_status_class) (rate(${http}_count[5m]))`,
          },
          {
            record: RECORDED.latencyP95,
            expr: `histogram_quantile(0.95, sum by (job, http_route, le) (rate(${http}_bucket[5m])))`,
          },
          {
            record: RECORDED.serverErrorRatio,
            expr: `sum by (job) (rate(${http}_count{http_response_status_class="5xx"}[5m])) / sum by (job) (rate(${http}_count[5m]))`,
          },
          {
            record: RECORDED.clientErrorRatio,
            expr: `sum by (job) (rate(${http}_count{http_response_status_class="4xx"}[5m])) / sum by (job) (rate(${http}_count[5m]))`,
          },
          { record: RECORDED.cpu, expr: 'rate(process_cpu_seconds_total[5m])' },
          { record: RECORDED.heap, expr: `nodejs_heap_size_used_bytes / ${runtimeMetrics.heapLimit.name}` },
          {
            record: RECORDED.dbLatencyP95,
            expr: `histogram_quantile(0.95, sum by (job, db_node, le) (rate(${db}_bucket[5m])))`,
          },
          {
            record: RECORDED.poolUsage,
            expr: `sum by (${pool}) (${dbMetrics.poolConnections.name}{db_client_connection_state="used"}) / sum by (${pool}) (${dbMetrics.poolMax.name})`,
          },
          { record: RECORDED.queueGrowth, expr: `deriv(${queueMetrics.depth.name}[10m])` },
        ],
      },
      {
        name: 'scalekit-scale-out',
        rules: [
          alert(
            'ScalekitHighCpu',
            `${RECORDED.cpu} > ${t.cpu}`,
            `CPU above ${t.cpu * 100}% of a core: add instances`,
            'warning',
          ),
          alert(
            'ScalekitHighMemory',
            `${RECORDED.heap} > ${t.heap}`,
            `Heap above ${t.heap * 100}% of its limit`,
            'warning',
          ),
          alert(
            'ScalekitHighLatency',
            `${RECORDED.latencyP95} > ${t.latencyP95}`,
            `p95 latency above ${t.latencyP95 * 1000} ms on {{ $labels.http_route }}`,
            'warning',
          ),
          alert(
            'ScalekitServerErrors',
            `${RECORDED.serverErrorRatio} > ${t.serverErrorRatio}`,
            `More than ${t.serverErrorRatio * 100}% of responses are 5xx`,
            'critical',
            '5m',
          ),
          alert(
            'ScalekitClientErrors',
            `${RECORDED.clientErrorRatio} > ${t.clientErrorRatio}`,
            `More than ${t.clientErrorRatio * 100}% of responses are 4xx`,
            'warning',
            '5m',
          ),
          alert(
            'ScalekitEventLoopDelay',
            `nodejs_eventloop_lag_p99_seconds > ${t.eventLoopDelay}`,
            `Event-loop delay p99 above ${t.eventLoopDelay * 1000} ms`,
            'warning',
            '5m',
          ),
          alert(
            'ScalekitLoadShedding',
            `sum by (job) (rate(${httpMetrics.shedRequests.name}[5m])) > 0`,
            'Requests are being shed (503): the instance is saturated',
            'warning',
            '2m',
          ),
        ],
      },
      {
        name: 'scalekit-dependencies',
        rules: [
          alert(
            'ScalekitReplicaLag',
            `${dbMetrics.replicaLagSeconds.name} > ${t.replicaLagSeconds}`,
            `Replica {{ $labels.db_node }} is more than ${t.replicaLagSeconds} s behind`,
            'warning',
            '5m',
          ),
          alert(
            'ScalekitDatabaseSlow',
            `${RECORDED.dbLatencyP95} > ${t.dbLatencyP95}`,
            `p95 statement duration above ${t.dbLatencyP95 * 1000} ms on {{ $labels.db_node }}: the database is saturated`,
            'warning',
          ),
          alert(
            'ScalekitDbPoolSaturated',
            `${RECORDED.poolUsage} >= ${t.poolUsage} or sum by (${pool}) (${dbMetrics.poolPending.name}) > 0`,
            `Pool {{ $labels.db_client_connection_pool_name }} on {{ $labels.instance }} has ${t.poolUsage * 100}% of its connections in use or checkouts waiting: the database load needs more capacity (replicas, a bigger pool, fewer statements)`,
            'warning',
            '5m',
          ),
          alert(
            'ScalekitReplicaFallbacks',
            `sum by (job) (rate(${dbMetrics.fallbacks.name}[5m])) > 0`,
            'Reads are falling back to the primary',
            'warning',
          ),
          alert(
            'ScalekitQueueBacklogGrowing',
            `${queueMetrics.depth.name} > ${t.queueDepth} and ${RECORDED.queueGrowth} > 0`,
            `Queue {{ $labels.messaging_consumer_group_name }} holds more than ${t.queueDepth} messages and grows: add consumers`,
            'warning',
          ),
          alert(
            'ScalekitDeadLetters',
            `sum by (job, messaging_consumer_group_name) (increase(${queueMetrics.deadLetters.name}[10m])) > 0`,
            'Messages were dead-lettered',
            'warning',
            '0m',
          ),
          alert(
            'ScalekitBreakerOpen',
            `${breakerMetrics.state.name} == 2`,
            'Circuit breaker of {{ $labels.package }}/{{ $labels.namespace }} is open',
            'critical',
            '1m',
          ),
          alert(
            'ScalekitSeriesBudget',
            `sum by (job, metric) (increase(${seriesOverflow.name}[10m])) > 0`,
            'Metric {{ $labels.metric }} reached its series budget: a label holds unbounded values',
            'warning',
            '0m',
          ),
        ],
      },
    ],
  }
}
