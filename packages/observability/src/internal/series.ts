import type { Counter, Gauge, Histogram } from 'prom-client'
import type { MetricDefinition } from '../metrics/definitions'
import type { metricsInternals } from '../metrics/metrics'

type Impl = ReturnType<typeof metricsInternals>

/**
 * The label objects of one metric, built once per label set and kept within the metric's series
 * budget (past it, the overflow set), for hot paths that record by label values.
 */
export class LabelSets {
  readonly #definition: MetricDefinition
  readonly #metrics: Impl
  readonly #sets = new Map<string, Record<string, string>>()

  constructor(metrics: Impl, definition: MetricDefinition) {
    this.#metrics = metrics
    this.#definition = definition
  }

  /** The labels of `values` (in the definition's label order). */
  of(values: readonly string[]): Record<string, string> {
    const key = values.join('\u0000')
    const known = this.#sets.get(key)
    if (known !== undefined) return known
    if (!this.#metrics.admit(this.#definition, key)) return this.#metrics.overflowLabels(this.#definition)
    const labels: Record<string, string> = {}
    this.#definition.labelNames.forEach((name, i) => {
      labels[name] = values[i] ?? ''
    })
    this.#sets.set(key, labels)
    return labels
  }
}

/** A counter recorded by label values within its series budget. */
export function boundedCounter(
  metrics: Impl,
  definition: MetricDefinition,
): (values: readonly string[], by?: number) => void {
  const counter: Counter = metrics.counter(definition)
  const sets = new LabelSets(metrics, definition)
  return (values, by = 1) => {
    counter.inc(sets.of(values), by)
  }
}

/** A gauge set by label values within its series budget. */
export function boundedGauge(
  metrics: Impl,
  definition: MetricDefinition,
): (values: readonly string[], value: number) => void {
  const gauge: Gauge = metrics.gauge(definition)
  const sets = new LabelSets(metrics, definition)
  return (values, value) => {
    gauge.set(sets.of(values), value)
  }
}

/** A histogram observed by label values within its series budget. */
export function boundedHistogram(
  metrics: Impl,
  definition: MetricDefinition,
): (values: readonly string[], value: number) => void {
  const histogram: Histogram = metrics.histogram(definition)
  const sets = new LabelSets(metrics, definition)
  return (values, value) => {
    histogram.observe(sets.of(values), value)
  }
}

/** A label value from a channel payload field: the string if it is a short one, else `fallback`. */
export function label(value: unknown, fallback: string): string {
  return typeof value === 'string' && value.length > 0 && value.length <= 120 ? value : fallback
}
