import { Registry } from 'prom-client'

/** The two exposition formats a `/metrics` handler serves. */
export type ExpositionFormat = 'prometheus' | 'openmetrics'

/** A rendered scrape: the body and its content type. */
export interface Exposition {
  readonly contentType: string
  readonly body: string
}

const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  prometheus: Registry.PROMETHEUS_CONTENT_TYPE,
  openmetrics: Registry.OPENMETRICS_CONTENT_TYPE,
}

/**
 * The format an `Accept` header asks for: OpenMetrics when it names `application/openmetrics-text`
 * with a quality at least that of the text format (Prometheus sends it first, q=1), else the
 * Prometheus text format — also for no header, `*\/*` and anything unparsable.
 */
export function negotiate(accept: string | undefined): ExpositionFormat {
  if (accept === undefined || !accept.includes('openmetrics')) return 'prometheus'
  let openMetrics = 0
  let text = 0
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((p) => p.trim().toLowerCase())
    const q = params.find((p) => p.startsWith('q='))
    const quality = q === undefined ? 1 : Number(q.slice(2))
    if (!(quality >= 0 && quality <= 1)) continue
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, quality)
    else if (type === 'text/plain') text = Math.max(text, quality)
  }
  return openMetrics > 0 && openMetrics >= text ? 'openmetrics' : 'prometheus'
}

/** prom-client's per-metric renderer, not in its types (what `Registry#metrics()` maps over). */
interface MetricRenderer {
  getMetricsAsString(metric: object): Promise<string>
}

interface Collectable {
  readonly type?: string
  get(): Promise<{ name: string }>
}

/**
 * OpenMetrics names a counter's family without `_total` (prom-client appends it to each sample).
 * prom-client's own OpenMetrics rendering renames the counter object itself, which would take
 * `_total` off the Prometheus text of every later scrape; this view renames only what it renders.
 */
function openMetricsView(metric: Collectable): Collectable {
  if (metric.type !== 'counter') return metric
  return {
    type: 'counter',
    get: async () => {
      const data = await metric.get()
      return { ...data, name: data.name.replace(/_total$/, '') }
    },
  }
}

/**
 * The registry's metrics in `format`. The registry's own format is its `metrics()`, untouched; the
 * other is rendered by prom-client's renderer on a view of the registry with the other content type
 * (its default labels and metrics shared, nothing of the registry changed), so two scrapes in two
 * formats may run at once.
 */
export async function render(registry: Registry, format: ExpositionFormat): Promise<Exposition> {
  const contentType = CONTENT_TYPES[format]
  if (registry.contentType === contentType) return { contentType, body: await registry.metrics() }
  const view = Object.create(registry, { contentType: { value: contentType } }) as MetricRenderer
  const metrics = registry.getMetricsAsArray() as unknown as Collectable[]
  if (format === 'prometheus') {
    const parts = await Promise.all(metrics.map((m) => view.getMetricsAsString(m)))
    return { contentType, body: `${parts.join('\n\n')}\n` }
  }
  const parts = await Promise.all(metrics.map((m) => view.getMetricsAsString(openMetricsView(m))))
  return { contentType, body: `${parts.join('\n')}\n# EOF\n` }
}
