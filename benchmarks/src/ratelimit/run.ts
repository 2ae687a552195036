/**
 * The @scalekit/ratelimit benchmark suite, in one process and one run: decisions/s and p50/p99
 * against raw INCR + PEXPIRE (the floor), rate-limiter-flexible and express-rate-limit with
 * rate-limit-redis on the same Redis; a hammered key (commands per decision); the window edge;
 * Redis unreachable; the Express and Fastify middleware against a bare route; where a decision's time
 * goes (client CPU and Redis's own time per call, on a private Redis).
 *
 * SK_RL_BEFORE=<dist dir> adds `before` variants to `http` and `adapter-cpu`: the same servers on another build of
 * @scalekit/ratelimit (its dist folder), for a before/after in one run.
 *
 *   pnpm --filter @scalekit/benchmarks bench:ratelimit [decisions hammered edge unreachable http script-cost adapter-cpu]
 *
 * Needs the shared Redis (SCALEKIT_REDIS_URL, default redis://127.0.0.1:6379); every key carries this
 * run's id and is deleted at the end. BENCH_QUICK=1 runs short loops (not for quoting).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { machineInfo, selectScenarios } from '../harness'
import { runDecisions } from './decisions'
import { runAdapterCpu } from './adapter-cpu'
import { runEdge } from './edge'
import { runHammered } from './hammered'
import { runHttp } from './http'
import { runScriptCost } from './script-cost'
import { runScriptParts } from './script-parts'
import { runUnreachable } from './unreachable'

const quick = process.env.BENCH_QUICK === '1'
const redisUrl = process.env.SCALEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379'
const runId = `bench-rl-${randomBytes(4).toString('hex')}`
const redis = new Redis(redisUrl)

const SCENARIOS = {
  decisions: () => runDecisions(redis, runId, quick),
  hammered: () => runHammered(redis, runId, quick),
  edge: () => runEdge(redis, runId),
  unreachable: () => runUnreachable(runId),
  http: () => runHttp(redisUrl, runId, quick),
  'script-cost': () => runScriptCost(runId, quick),
  'script-parts': () => runScriptParts(runId, quick),
  'adapter-cpu': () => runAdapterCpu(quick),
}

const machine = machineInfo()
const selected = selectScenarios(SCENARIOS)
console.log(`@scalekit/ratelimit benchmarks — ${machine.date}`)
console.log(
  `Node ${machine.node}, ${machine.cpu} × ${machine.cores} cores, load ${machine.loadAverage1m}; scenarios: ${selected.join(', ')}`,
)

const results: Record<string, unknown> = {}
try {
  for (const name of selected) results[name] = await SCENARIOS[name]()
} finally {
  const keys = await redis.keys(`*${runId}*`)
  for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500))
  redis.disconnect()
}

const dir = fileURLToPath(new URL('../../results/', import.meta.url))
mkdirSync(dir, { recursive: true })
const partial = selected.length < Object.keys(SCENARIOS).length ? `-${selected.join('-')}` : ''
writeFileSync(
  `${dir}ratelimit${partial}${quick ? '-quick' : ''}.json`,
  `${JSON.stringify({ machine, results }, null, 2)}\n`,
)
process.exit(0)
