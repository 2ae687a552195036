/**
 * The @scalekit/session benchmark suite, in one process and one run: verify (raw jose, ours without
 * and with the verified-token cache), what jose accepts that we refuse, server-session store ops and
 * lost updates, and middleware cost over HTTP. Prints tables and writes benchmarks/results/session.json.
 *
 *   pnpm --filter @scalekit/benchmarks bench:session [verify attacks store http api-keys]
 *
 * Needs the shared Redis (SCALEKIT_REDIS_URL, default redis://127.0.0.1:6379); every key carries this
 * run's id and is deleted at the end. BENCH_QUICK=1 runs short loops (not for quoting).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { machineInfo, selectScenarios } from '../harness'
import { runApiKeyTiming } from './api-keys'
import { runHttp } from './http'
import { runStore } from './store'
import { runAttacks, runVerify } from './verify'

const quick = process.env.BENCH_QUICK === '1'
const redisUrl = process.env.SCALEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379'
const runId = `bench-session-${randomBytes(4).toString('hex')}`

const SCENARIOS = {
  verify: () => runVerify(quick),
  attacks: () => runAttacks(),
  store: () => runStore(redisUrl, runId, quick),
  http: () => runHttp(redisUrl, runId, quick),
  'api-keys': () => runApiKeyTiming(quick),
}

const machine = machineInfo()
const selected = selectScenarios(SCENARIOS)
console.log(`@scalekit/session benchmarks — ${machine.date}`)
console.log(
  `Node ${machine.node}, ${machine.cpu} × ${machine.cores} cores, load ${machine.loadAverage1m}; scenarios: ${selected.join(', ')}`,
)

const results: Record<string, unknown> = {}
for (const name of selected) results[name] = await SCENARIOS[name]()

const dir = fileURLToPath(new URL('../../results/', import.meta.url))
mkdirSync(dir, { recursive: true })
// A partial or quick run never overwrites the full run's file.
const partial = selected.length < Object.keys(SCENARIOS).length ? `-${selected.join('-')}` : ''
writeFileSync(
  `${dir}session${partial}${quick ? '-quick' : ''}.json`,
  `${JSON.stringify({ machine, results }, null, 2)}\n`,
)
process.exit(0)
