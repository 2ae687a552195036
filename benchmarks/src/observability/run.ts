/**
 * The @scalekit/observability benchmark: Express and Fastify `GET /users/:id` bare, with our
 * metrics, our logs and both, against a hand-written prom-client middleware and the peers
 * (express-prom-bundle, pino-http, fastify-metrics, Fastify's own logger), in one run; then the
 * overhead of `instrument()` per call. Prints tables and writes benchmarks/results/observability.json.
 *
 *   pnpm --filter @scalekit/benchmarks bench:observability [http instrument]
 *   SK_OBS_VARIANTS=metrics,logs,metrics+logs SK_OBS_ROUNDS=7 SK_OBS_SECONDS=3 … (a subset, more rounds)
 *
 * Each server runs in a process of its own (its CPU time per request is read from it over IPC) and
 * autocannon loads it from this process. Rounds rotate the order; figures are medians over rounds,
 * and the ratios to bare are taken within each round.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { machineInfo, median, selectScenarios } from '../harness'
import { type ServerProcess, measureServers, startServer, stopServers } from '../http-servers'
import { runInstrument } from './instrument'

const QUICK = process.env.BENCH_QUICK === '1'
const ROUNDS = Number(process.env.SK_OBS_ROUNDS ?? (QUICK ? 1 : 3))
const SECONDS = Number(process.env.SK_OBS_SECONDS ?? (QUICK ? 1 : 4))
const CONNECTIONS = 16

const ALL_VARIANTS = {
  express: [
    'bare',
    'metrics',
    'logs',
    'logs-no-context',
    'metrics+logs',
    'prom-client',
    'als-floor',
    'express-prom-bundle',
    'pino-http',
  ],
  fastify: [
    'bare',
    'metrics',
    'logs',
    'logs-no-context',
    'metrics+logs',
    'metrics+context',
    'metrics+logs-no-context',
    'context-only',
    'logs-no-access',
    'prom-client',
    'als-floor',
    'als-enterwith-floor',
    'fastify-metrics',
    'fastify-logger',
    'log-floor',
    'prom-client+log-floor',
    'als-floor+log-floor',
  ],
} as const

/**
 * `SK_OBS_VARIANTS=bare,metrics,metrics+logs` runs a subset (bare is always run: the ratios need it);
 * `metrics@base` runs a variant on an earlier build too (see server.ts), for a before/after in one run.
 * `SK_OBS_FRAMEWORKS=fastify` runs one framework.
 */
const only = process.env.SK_OBS_VARIANTS?.split(',')
const frameworks = process.env.SK_OBS_FRAMEWORKS?.split(',') ?? ['express', 'fastify']
function variantsOf(all: readonly string[]): string[] {
  if (only === undefined) return [...all]
  return ['bare', ...only.filter((v) => v !== 'bare' && all.includes(v.replace(/@base$/, '')))]
}
const VARIANTS = {
  express: frameworks.includes('express') ? variantsOf(ALL_VARIANTS.express) : [],
  fastify: frameworks.includes('fastify') ? variantsOf(ALL_VARIANTS.fastify) : [],
}

async function load(port: number, seconds: number): Promise<autocannon.Result> {
  let id = 0
  return autocannon({
    url: `http://127.0.0.1:${port}`,
    connections: CONNECTIONS,
    duration: seconds,
    requests: [
      {
        method: 'GET',
        setupRequest: (request) => ({ ...request, path: `/users/${(id++ % 100_000).toString(36)}` }),
      },
    ],
  })
}

async function seriesOf(port: number): Promise<number | undefined> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`)
  if (!response.ok) return undefined
  const text = await response.text()
  return text.split('\n').filter((line) => /^http_\w*duration_seconds_count\{/.test(line)).length
}

async function runHttp(framework: keyof typeof VARIANTS): Promise<unknown> {
  const servers: ServerProcess[] = []
  const script = new URL('./server.ts', import.meta.url)
  try {
    for (const variant of VARIANTS[framework])
      servers.push(await startServer(variant, script, [framework, variant]))
    const rounds = await measureServers(servers, {
      rounds: ROUNDS,
      seconds: SECONDS,
      load: (server, seconds) => load(server.port, seconds),
    })
    const bare = rounds.get('bare')!
    const rows = servers.map((server) => {
      const mine = rounds.get(server.name)!
      return {
        variant: server.name,
        reqPerSec: Math.round(median(mine.map((m) => m.reqPerSec))),
        cpuUsPerReq: Math.round(median(mine.map((m) => m.cpuUsPerReq)) * 10) / 10,
        p99Ms: median(mine.map((m) => m.p99Ms)),
        reqPerSecVsBare: Math.round(median(mine.map((m, i) => m.reqPerSec / bare[i]!.reqPerSec)) * 100) / 100,
        cpuVsBare: Math.round(median(mine.map((m, i) => m.cpuUsPerReq / bare[i]!.cpuUsPerReq)) * 100) / 100,
      }
    })
    for (const row of rows) {
      const server = servers.find((s) => s.name === row.variant)!
      Object.assign(row, { durationSeries: await seriesOf(server.port) })
    }
    console.log(
      `\n${framework}: GET /users/:id, ${CONNECTIONS} connections, ${ROUNDS} × ${SECONDS} s, medians`,
    )
    console.table(rows)
    return rows
  } finally {
    stopServers(servers)
  }
}

const SCENARIOS = {
  http: async () => ({
    express: VARIANTS.express.length > 0 ? await runHttp('express') : undefined,
    fastify: VARIANTS.fastify.length > 0 ? await runHttp('fastify') : undefined,
  }),
  instrument: async () => runInstrument(QUICK),
}

const results: Record<string, unknown> = { machine: machineInfo(), rounds: ROUNDS, secondsPerRun: SECONDS }
for (const name of selectScenarios(SCENARIOS)) results[name] = await SCENARIOS[name]()
if (!QUICK) {
  const dir = fileURLToPath(new URL('../../results/', import.meta.url))
  mkdirSync(dir, { recursive: true })
  writeFileSync(`${dir}observability.json`, `${JSON.stringify(results, null, 2)}\n`)
}
