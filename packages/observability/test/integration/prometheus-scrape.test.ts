import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createCache } from '@scalekit/cache'
import { createDbRouter } from '@scalekit/db-router'
import { createQueue, defineMessage } from '@scalekit/queue'
import { freePort, serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import express from 'express'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createMetrics, instrumentScalekit } from '../../src/index'
import { metricsHandler, observability } from '../../src/adapters/express'
import { get, load, serve } from '../http-client'

const rules = fileURLToPath(new URL('../../artifacts/prometheus-rules.yml', import.meta.url))

interface PromResult {
  metric: Record<string, string>
  value: [number, string]
}

/**
 * A real scrape: Debian's Prometheus scrapes an app that uses cache, db-router and queue, then we
 * query it back over its HTTP API.
 */
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'

describe('Prometheus scrapes an app using every package', () => {
  const metrics = createMetrics({ exemplars: true })
  const app = uniqueName('obs_scrape')
  const Job = defineMessage(`${app}.job`, {
    '~standard': {
      version: 1 as const,
      vendor: 'test',
      types: undefined as unknown as { input: { n: number }; output: { n: number } },
      validate: (value: unknown) => ({ value: value as { n: number } }),
    },
  })
  const cache = createCache({ namespace: uniqueName('obs_scrape'), redis: serviceUrls.redis })
  const db = createDbRouter({ primary: serviceUrls.pg })
  const instrumentation = instrumentScalekit({ metrics, dbRouters: [db] })
  const queue = createQueue({ url: serviceUrls.amqp, app, statsInterval: '500ms' })
  const dir = mkdtempSync(join(tmpdir(), 'obs-prometheus-'))
  let prometheus: ChildProcess | undefined
  let promPort = 0
  let closeApp: () => Promise<void> = () => Promise.resolve()
  let appPort = 0

  const query = async (promql: string): Promise<PromResult[]> => {
    const answer = await get(promPort, `/api/v1/query?query=${encodeURIComponent(promql)}`)
    const body = JSON.parse(answer.body) as { status: string; data: { result: PromResult[] } }
    return body.data.result
  }

  beforeAll(async () => {
    let consumed = 0
    queue.consume(
      Job,
      () => {
        consumed++
        return Promise.resolve()
      },
      { group: 'scrape' },
    )
    const web = express()
    web.use(observability({ metrics }))
    web.get('/users/:id', (req, res, next) => {
      cache
        .getOrSet(`user:${req.params.id}`, async () => (await db.query('SELECT 1 AS one')).rows[0])
        .then(async (user) => {
          await queue.publish(Job, { n: 1 })
          res.json(user)
        }, next)
    })
    web.get('/metrics', metricsHandler(metrics))
    ;({ port: appPort, close: closeApp } = await serve(web))
    await load(appPort, 199, (i) => `/users/${i % 50}`, 8)
    // One request in a sampled trace: its latency bucket carries the trace id as an exemplar.
    expect(
      (await get(appPort, '/users/traced', { traceparent: `00-${TRACE}-00f067aa0ba902b7-01` })).status,
    ).toBe(200)
    await waitFor(() => consumed === 200, { timeout: 20_000 })

    promPort = await freePort()
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: [${JSON.stringify(rules)}]`,
        'scrape_configs:',
        '  - job_name: app',
        `    static_configs: [{ targets: ['127.0.0.1:${appPort}'] }]`,
        '',
      ].join('\n'),
    )
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
        // Prometheus then scrapes in OpenMetrics (it always asks for it first) and keeps exemplars.
        '--enable-feature=exemplar-storage',
      ],
      { stdio: 'ignore' },
    )
    await waitFor(async () => (await get(promPort, '/-/ready').catch(() => ({ status: 0 }))).status === 200, {
      timeout: 30_000,
      message: 'Prometheus ready',
    })
  })

  afterAll(async () => {
    prometheus?.kill('SIGTERM')
    if (prometheus !== undefined && prometheus.exitCode === null)
      await new Promise((resolve) => prometheus?.once('exit', resolve))
    rmSync(dir, { recursive: true, force: true })
    instrumentation.close()
    await closeApp()
    await Promise.all([cache.close(), db.close(), queue.close({ timeout: '2s' })])
  })

  it('stores the series with their labels and evaluates the shipped rules', async () => {
    const http = await waitFor(
      async () => {
        const result = await query(
          'http_server_request_duration_seconds_count{job="app",http_route="/users/:id"}',
        )
        return result.length > 0 ? result : undefined
      },
      { timeout: 30_000, message: 'the HTTP series in Prometheus' },
    )
    expect(http).toHaveLength(1)
    expect(http[0]?.metric).toMatchObject({
      http_request_method: 'GET',
      http_response_status_class: '2xx',
      instance: `127.0.0.1:${appPort}`,
    })
    expect(Number(http[0]?.value[1])).toBeGreaterThanOrEqual(200)

    const hits = await query('sum by (cache_tier, cache_outcome) (scalekit_cache_gets_total{job="app"})')
    expect(hits.map((r) => `${r.metric.cache_tier}/${r.metric.cache_outcome}`).sort()).toEqual(
      expect.arrayContaining(['factory/miss', 'l1/hit']),
    )
    expect(
      await query('db_client_operation_duration_seconds_count{job="app",db_role="primary"}'),
    ).toHaveLength(1)
    const consumed = await query(
      `messaging_process_duration_seconds_count{job="app",messaging_destination_name="${Job.name}"}`,
    )
    expect(consumed[0]?.metric).toMatchObject({ messaging_consumer_group_name: 'scrape', outcome: 'ack' })
    expect(await query('nodejs_eventloop_lag_p99_seconds{job="app"}')).toHaveLength(1)
    const poolMax = await query('db_client_connection_max{job="app"}')
    expect(poolMax.map((r) => r.metric.db_client_connection_pool_name)).toEqual(['primary'])
    expect(Number(poolMax[0]?.value[1])).toBe(10)

    // The rules load and evaluate: every group healthy, the recording rules produce series.
    await waitFor(async () => (await query('http_route:http_server_requests:rate5m{job="app"}')).length > 0, {
      timeout: 30_000,
      message: 'a recording rule evaluated',
    })
    await waitFor(
      async () =>
        (await query('db_client_connection_pool_name:db_client_connection_usage:ratio{job="app"}')).length >
        0,
      { timeout: 30_000, message: 'the pool usage recorded' },
    )
    const answer = JSON.parse((await get(promPort, '/api/v1/rules')).body) as {
      data: { groups: { name: string; rules: { health: string; name: string }[] }[] }
    }
    const all = answer.data.groups.flatMap((g) => g.rules)
    expect(all).toHaveLength(24)
    await waitFor(
      async () => {
        const now = JSON.parse((await get(promPort, '/api/v1/rules')).body) as typeof answer
        return now.data.groups.flatMap((g) => g.rules).every((r) => r.health === 'ok')
      },
      { timeout: 30_000, message: 'every rule evaluated with health ok' },
    )
  })

  it('stores the exemplar that links the latency histogram to the traced request', async () => {
    const now = Date.now() / 1000
    const found = await waitFor(
      async () => {
        const answer = await get(
          promPort,
          `/api/v1/query_exemplars?query=${encodeURIComponent('http_server_request_duration_seconds_bucket{job="app"}')}&start=${now - 600}&end=${now + 600}`,
        )
        const body = JSON.parse(answer.body) as {
          data: {
            seriesLabels: Record<string, string>
            exemplars: { labels: Record<string, string>; value: string }[]
          }[]
        }
        const all = body.data.flatMap((s) => s.exemplars.map((e) => ({ series: s.seriesLabels, ...e })))
        return all.some((e) => e.labels.trace_id === TRACE) ? all : undefined
      },
      { timeout: 30_000, message: 'the exemplar in Prometheus' },
    )
    const traced = found.find((e) => e.labels.trace_id === TRACE)
    expect(traced?.series).toMatchObject({ http_route: '/users/:id', http_response_status_class: '2xx' })
    expect(Number(traced?.value)).toBeGreaterThan(0)
  })
})
