import { type MetricDefinition, metricDefinitions } from '../metrics/definitions'

/** A Grafana dashboard (the JSON model Grafana imports). */
export interface GrafanaDashboard {
  readonly title: string
  readonly uid: string
  readonly schemaVersion: number
  readonly time: { readonly from: string; readonly to: string }
  readonly templating: { readonly list: readonly object[] }
  readonly panels: readonly object[]
}

const FAMILIES: readonly { readonly title: string; readonly prefix: RegExp }[] = [
  { title: 'HTTP', prefix: /^http_/ },
  { title: 'Functions', prefix: /^function_/ },
  { title: 'Cache', prefix: /^scalekit_cache_/ },
  { title: 'Database', prefix: /^(db_|scalekit_db_)/ },
  { title: 'Queue', prefix: /^(messaging_|scalekit_queue_)/ },
  { title: 'Sessions and rate limits', prefix: /^scalekit_(session|ratelimit)_/ },
  { title: 'Runtime and breakers', prefix: /^(nodejs_|scalekit_breaker_|scalekit_observability_)/ },
]

function query(def: MetricDefinition): { expr: string; legend: string; unit: string } {
  const by = def.labelNames.filter((l) => l !== 'le').slice(0, 2)
  const legend = by.map((l) => `{{${l}}}`).join(' ')
  const sel = '{job=~"$job"}'
  if (def.kind === 'histogram')
    return {
      expr: `histogram_quantile(0.95, sum by (${['le', ...by].join(', ')}) (rate(${def.name}_bucket${sel}[$__rate_interval])))`,
      legend: `p95 ${legend}`,
      unit: 's',
    }
  if (def.kind === 'counter')
    return {
      expr: `sum by (${by.join(', ')}) (rate(${def.name}${sel}[$__rate_interval]))`,
      legend,
      unit: 'ops',
    }
  return {
    expr: by.length === 0 ? `max(${def.name}${sel})` : `sum by (${by.join(', ')}) (${def.name}${sel})`,
    legend,
    unit: def.name.endsWith('_bytes') ? 'bytes' : def.name.endsWith('_seconds') ? 's' : 'short',
  }
}

/** The shipped dashboard, one panel per metric definition, in rows by family. */
export function grafanaDashboard(): GrafanaDashboard {
  const panels: object[] = []
  let id = 1
  let y = 0
  for (const family of FAMILIES) {
    const defs = metricDefinitions.filter((d) => family.prefix.test(d.name))
    if (defs.length === 0) continue
    panels.push({
      id: id++,
      type: 'row',
      title: family.title,
      collapsed: false,
      gridPos: { h: 1, w: 24, x: 0, y },
      panels: [],
    })
    y += 1
    defs.forEach((def, i) => {
      const q = query(def)
      panels.push({
        id: id++,
        type: 'timeseries',
        title: def.name,
        description: def.help,
        datasource: { type: 'prometheus', uid: '${datasource}' },
        fieldConfig: { defaults: { unit: q.unit }, overrides: [] },
        gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: y + Math.floor(i / 2) * 8 },
        targets: [{ refId: 'A', expr: q.expr, legendFormat: q.legend }],
      })
    })
    y += Math.ceil(defs.length / 2) * 8
  }
  return {
    title: 'scalekit',
    uid: 'scalekit-observability',
    schemaVersion: 39,
    time: { from: 'now-1h', to: 'now' },
    templating: {
      list: [
        { name: 'datasource', type: 'datasource', query: 'prometheus' },
        {
          name: 'job',
          type: 'query',
          datasource: { type: 'prometheus', uid: '${datasource}' },
          query: 'label_values(process_cpu_seconds_total, job)',
          includeAll: true,
          multi: true,
          allValue: '.*',
        },
      ],
    },
    panels,
  }
}
