import { getHeapStatistics } from 'node:v8'
import { createChecks, createWarner, type Logger, type Warner } from '@scalekit/internal'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import {
  ObservabilityArgumentError,
  ObservabilityMetricConflictError,
  ObservabilityOptionsError,
} from '../errors'
import { type MetricDefinition, type MetricKind, runtimeMetrics, seriesOverflow } from './definitions'
import { type Exposition, negotiate, render } from './exposition'

/**
 * Where an exemplar's trace id comes from, read when a request starts: a W3C trace id (32 lowercase
 * hex digits) of a sampled trace, or `undefined` for none. `activeTraceId` of
 * `@scalekit/observability/otel` reads the active OpenTelemetry span's.
 */
export type ExemplarTraceId = () => string | undefined

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /**
   * The prom-client registry to register on. Pass `register` from prom-client to use its global
   * registry, or the registry of your app when another library already owns one.
   * @default a new `Registry` of its own (never prom-client's global one: two copies of prom-client, or
   * two apps in one process, would otherwise share or miss metrics silently)
   */
  registry?: Registry
  /**
   * Register prom-client's default process metrics (CPU, memory, heap, GC, handles, event-loop
   * delay as `nodejs_eventloop_lag_*_seconds`) on the registry, once per registry.
   * @default true
   */
  defaultMetrics?: boolean
  /**
   * The most label sets (series) one metric of this package may hold. Past it, new label sets are
   * recorded under one overflow set (every label `overflow`) and counted in
   * `scalekit_observability_series_overflow_total{metric}`, so a bug that puts ids in a label
   * cannot exhaust memory or the Prometheus server.
   * @default 1000
   */
  seriesBudget?: number
  /** Where a metric that reached its budget is reported (pino's shape). @default Node's process warnings */
  logger?: Logger
  /**
   * Attach an exemplar — `{trace_id="…"}` — to the observations of
   * `http_server_request_duration_seconds`, linking a latency bucket to a trace. Exemplars appear
   * only in the OpenMetrics format, which the `/metrics` handlers serve when the scraper asks for it
   * (`Accept: application/openmetrics-text`, as Prometheus does; store them with
   * `--enable-feature=exemplar-storage`). `true`: the trace of the request context (the incoming
   * `traceparent`'s, or the one the middleware started when it keeps a context); a function: the
   * trace id it returns at the start of each request (e.g. `activeTraceId` of
   * `@scalekit/observability/otel`), else the request's. Off, requests pay nothing for it. Set once
   * per registry, by the first `createMetrics()` that registers the histogram.
   * @default false
   */
  exemplars?: boolean | ExemplarTraceId
}

/** The defaults of {@link MetricsOptions}. */
export const metricsDefaults: {
  readonly defaultMetrics: true
  readonly seriesBudget: 1000
  readonly exemplars: false
} = {
  defaultMetrics: true,
  seriesBudget: 1000,
  exemplars: false,
}

/** The label value every label of a metric takes once the metric is over its series budget. */
export const OVERFLOW = 'overflow'

/**
 * A registry with this package's metrics on it: get-or-create accessors that return the existing
 * metric when the same definition is registered again (hot reload, two modules), and the series
 * budget that keeps label cardinality bounded.
 */
export interface Metrics {
  /** The prom-client registry every metric is registered on. */
  readonly registry: Registry
  /** The registry's exposition content type (for a `/metrics` response). */
  readonly contentType: string
  /** The counter of `definition`, registered on first use; the same object on every later call. */
  counter<L extends string>(definition: MetricDefinition<L>): Counter<L>
  /** The gauge of `definition`, registered on first use. */
  gauge<L extends string>(definition: MetricDefinition<L>): Gauge<L>
  /** The histogram of `definition`, registered on first use. */
  histogram<L extends string>(definition: MetricDefinition<L>): Histogram<L>
  /**
   * `labels` when their label set fits the metric's series budget (or was seen before), else the
   * overflow set (every label `overflow`), counted and warned about once per minute.
   */
  bounded<L extends string>(
    definition: MetricDefinition<L>,
    labels: Readonly<Record<L, string>>,
  ): Record<L, string>
  /** The exposition text of the registry (in the registry's format: Prometheus text unless you passed an OpenMetrics registry). */
  metrics(): Promise<string>
  /**
   * The exposition in the format an `Accept` header negotiates: OpenMetrics (with exemplars) when it
   * asks for `application/openmetrics-text`, else the Prometheus text format.
   */
  exposition(accept?: string): Promise<Exposition>
}

/** Values a gauge takes at scrape time: label values (in the definition's label order) to a value. */
export type GaugeSource = () => Iterable<readonly [labelValues: readonly string[], value: number]>

type AnyMetric = Counter | Gauge | Histogram

interface RegistryState {
  readonly budgets: Map<string, Set<string>>
  readonly overflowSets: Map<string, Record<string, string>>
  readonly sources: Map<string, Set<GaugeSource>>
  seriesBudget: number
  warner: Warner
  defaultMetrics: boolean
}

const TRACE_ID = /^[0-9a-f]{32}$/

/** Whether `value` is a W3C trace id (32 lowercase hex digits, not all zeros). */
export function isTraceId(value: unknown): value is string {
  return typeof value === 'string' && TRACE_ID.test(value) && value !== '0'.repeat(32)
}

/** One state per registry, so a second `createMetrics()` on it (hot reload) shares budgets and metrics. */
const states = new WeakMap<Registry, RegistryState>()

const checks = createChecks(ObservabilityOptionsError)

function kindOf(metric: object): MetricKind | 'other' {
  if ('observe' in metric) return 'upperBounds' in metric ? 'histogram' : 'other'
  if ('set' in metric) return 'gauge'
  if ('inc' in metric) return 'counter'
  return 'other'
}

class MetricsImpl implements Metrics {
  readonly registry: Registry
  /** Whether the HTTP duration histogram takes exemplars, and where their trace ids come from. */
  readonly exemplars: false | { readonly traceId: ExemplarTraceId | undefined }
  readonly #state: RegistryState
  #overflow: Counter<'metric'> | undefined

  constructor(registry: Registry, state: RegistryState, exemplars: boolean | ExemplarTraceId) {
    this.registry = registry
    this.#state = state
    this.exemplars =
      exemplars === false ? false : { traceId: typeof exemplars === 'function' ? exemplars : undefined }
  }

  get contentType(): string {
    return this.registry.contentType
  }

  counter<L extends string>(definition: MetricDefinition<L>): Counter<L> {
    return this.#obtain(definition, 'counter') as unknown as Counter<L>
  }

  gauge<L extends string>(definition: MetricDefinition<L>): Gauge<L> {
    return this.#obtain(definition, 'gauge') as unknown as Gauge<L>
  }

  histogram<L extends string>(definition: MetricDefinition<L>): Histogram<L> {
    return this.#obtain(definition, 'histogram') as unknown as Histogram<L>
  }

  bounded<L extends string>(
    definition: MetricDefinition<L>,
    labels: Readonly<Record<L, string>>,
  ): Record<L, string> {
    let key = ''
    for (const name of definition.labelNames) key += `${labels[name]}\u0000`
    return this.admit(definition, key) ? { ...labels } : this.overflowLabels(definition)
  }

  /** Whether the label set `key` fits `definition`'s budget; counts and warns when it does not. */
  admit(definition: MetricDefinition, key: string): boolean {
    let seen = this.#state.budgets.get(definition.name)
    if (seen === undefined) {
      seen = new Set()
      this.#state.budgets.set(definition.name, seen)
    }
    if (seen.has(key)) return true
    if (seen.size < this.#state.seriesBudget) {
      seen.add(key)
      return true
    }
    this.#overflow ??= this.counter(seriesOverflow)
    this.#overflow.inc({ metric: definition.name })
    this.#state.warner.warn(
      `series-budget:${definition.name}`,
      { code: 'ERR_OBSERVABILITY_SERIES_BUDGET', metric: definition.name, budget: this.#state.seriesBudget },
      `metric ${definition.name} reached its series budget (${this.#state.seriesBudget} label sets): new label sets are recorded as '${OVERFLOW}'`,
    )
    return false
  }

  /** The overflow label set of `definition` (one object per metric). */
  overflowLabels(definition: MetricDefinition): Record<string, string> {
    let labels = this.#state.overflowSets.get(definition.name)
    if (labels === undefined) {
      labels = Object.fromEntries(definition.labelNames.map((name) => [name, OVERFLOW]))
      this.#state.overflowSets.set(definition.name, labels)
    }
    return labels
  }

  metrics(): Promise<string> {
    return this.registry.metrics()
  }

  exposition(accept?: string): Promise<Exposition> {
    return render(this.registry, negotiate(accept))
  }

  /**
   * The histogram of `definition`, taking exemplars when these metrics do (see
   * {@link MetricsOptions.exemplars}); an already registered one as it is — check `enableExemplars`.
   */
  exemplarHistogram<L extends string>(definition: MetricDefinition<L>): Histogram<L> {
    if (this.exemplars === false || this.registry.getSingleMetric(definition.name) !== undefined)
      return this.histogram(definition)
    // prom-client refuses exemplars on a registry whose format is the Prometheus text (it could
    // not show them); ours serves either format by negotiation, so the histogram is registered
    // after construction, past that check.
    const histogram = new Histogram<L>({
      name: definition.name,
      help: definition.help,
      labelNames: [...definition.labelNames],
      buckets: [...(definition.buckets ?? [])],
      registers: [],
      enableExemplars: true,
    })
    this.registry.registerMetric(histogram)
    return histogram
  }

  /**
   * Adds `source` to the gauge of `definition`, which takes the values of all its sources at scrape
   * time (a hot path then updates a plain Map instead of the gauge). Returns a function that removes it.
   */
  gaugeSource(definition: MetricDefinition, source: GaugeSource): () => void {
    let sources = this.#state.sources.get(definition.name)
    if (sources === undefined) {
      const all = new Set<GaugeSource>()
      sources = all
      this.#state.sources.set(definition.name, all)
      const names = definition.labelNames
      if (this.registry.getSingleMetric(definition.name) === undefined) {
        new Gauge({
          name: definition.name,
          help: definition.help,
          labelNames: [...names],
          registers: [this.registry],
          collect() {
            this.reset()
            for (const each of all) {
              for (const [values, value] of each()) {
                const labels: Record<string, string> = {}
                names.forEach((name, i) => {
                  labels[name] = values[i] ?? ''
                })
                this.inc(labels, value)
              }
            }
          },
        })
      }
      this.gauge(definition) // checks the kind and labels of a gauge registered by someone else
    }
    sources.add(source)
    return () => sources.delete(source)
  }

  #obtain(definition: MetricDefinition, kind: MetricKind): AnyMetric {
    const given: unknown = definition
    if (typeof given !== 'object' || given === null || typeof definition.name !== 'string')
      throw new ObservabilityArgumentError('a metric definition must be { name, kind, help, labelNames }')
    const existing = this.registry.getSingleMetric(definition.name)
    if (existing !== undefined) {
      const existingKind = kindOf(existing)
      const labelNames = (existing as { labelNames?: readonly string[] }).labelNames ?? []
      const same =
        existingKind === kind &&
        labelNames.length === definition.labelNames.length &&
        definition.labelNames.every((name) => labelNames.includes(name))
      if (!same)
        throw new ObservabilityMetricConflictError(
          `metric ${definition.name} is already registered as a ${existingKind} with labels [${labelNames.join(', ')}]; this definition is a ${kind} with labels [${definition.labelNames.join(', ')}]`,
        )
      return existing as AnyMetric
    }
    const config = {
      name: definition.name,
      help: definition.help,
      labelNames: [...definition.labelNames],
      registers: [this.registry],
    }
    try {
      if (kind === 'counter') return new Counter(config)
      if (kind === 'gauge') return new Gauge(config)
      return new Histogram({ ...config, buckets: [...(definition.buckets ?? [])] })
    } catch (error) {
      throw new ObservabilityArgumentError(
        `metric ${definition.name} cannot be registered: ${String(error)}`,
        {
          cause: error,
        },
      )
    }
  }
}

/**
 * A set of metrics on a prom-client registry (a new one unless you pass yours). Calling it again on
 * the same registry — a hot reload, a second module — returns metrics that share the registered
 * metrics and their series budgets instead of throwing on duplicate registration.
 *
 * ```ts
 * const metrics = createMetrics() // or createMetrics({ registry: myRegistry })
 * ```
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    throw new ObservabilityOptionsError(`createMetrics() takes an options object, got ${typeof given}`)
  const registry = options.registry ?? new Registry()
  if (typeof (registry as { getSingleMetric?: unknown }).getSingleMetric !== 'function')
    throw new ObservabilityOptionsError('registry must be a prom-client Registry')
  const seriesBudget = checks.integer('seriesBudget', options.seriesBudget, metricsDefaults.seriesBudget, {
    min: 1,
  })
  const defaultMetrics = checks.boolean(
    'defaultMetrics',
    options.defaultMetrics,
    metricsDefaults.defaultMetrics,
  )
  const exemplars: unknown = options.exemplars ?? metricsDefaults.exemplars
  if (typeof exemplars !== 'boolean' && typeof exemplars !== 'function')
    throw new ObservabilityOptionsError(
      `exemplars must be a boolean or a function returning a trace id, got ${typeof exemplars}`,
    )
  let state = states.get(registry)
  if (state === undefined) {
    state = {
      budgets: new Map(),
      overflowSets: new Map(),
      sources: new Map(),
      seriesBudget,
      warner: createWarner('observability', options.logger),
      defaultMetrics: false,
    }
    states.set(registry, state)
  } else {
    state.seriesBudget = seriesBudget
    if (options.logger !== undefined) state.warner = createWarner('observability', options.logger)
  }
  if (defaultMetrics && !state.defaultMetrics) {
    state.defaultMetrics = true
    // Another copy of this package (or the app) may have registered them already on this registry.
    if (registry.getSingleMetric('process_cpu_user_seconds_total') === undefined)
      collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 })
    if (registry.getSingleMetric(runtimeMetrics.heapLimit.name) === undefined)
      new Gauge({
        name: runtimeMetrics.heapLimit.name,
        help: runtimeMetrics.heapLimit.help,
        registers: [registry],
        collect() {
          this.set(getHeapStatistics().heap_size_limit)
        },
      })
  }
  return new MetricsImpl(registry, state, exemplars as boolean | ExemplarTraceId)
}

/** The implementation behind a {@link Metrics} (this package's adapters use its fast paths). */
export function metricsInternals(metrics: Metrics): MetricsImpl {
  if (!(metrics instanceof MetricsImpl))
    throw new ObservabilityOptionsError('metrics must come from createMetrics() of @scalekit/observability')
  return metrics
}
