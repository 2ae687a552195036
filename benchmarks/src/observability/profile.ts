/**
 * Profiles one server of the observability benchmark under the same load as run.ts:
 *
 *   npx tsx src/observability/profile.ts <express|fastify> <variant> [seconds]
 *
 * The server runs with `--cpu-prof` (profiles land in `SK_OBS_PROFILE_DIR/<framework>-<variant>/`,
 * one per thread: the largest is the main thread's); `SK_OBS_NODE_FLAGS` replaces those flags
 * (e.g. `--trace-gc`).
 */
import { fork } from 'node:child_process'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'

const [framework = 'express', variant = 'bare', seconds = '8'] = process.argv.slice(2)
const dir = `${process.env.SK_OBS_PROFILE_DIR ?? `${tmpdir()}/scalekit-observability-profiles`}/${framework}-${variant}`
const flags = process.env.SK_OBS_NODE_FLAGS?.split(' ') ?? ['--cpu-prof', `--cpu-prof-dir=${dir}`]
const child = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [framework, variant], {
  execArgv: ['--import', 'tsx', ...flags],
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
})
const port = await new Promise<number>((resolve) => {
  child.once('message', (message) => {
    resolve((message as { port: number }).port)
  })
})
let id = 0
const result = await autocannon({
  url: `http://127.0.0.1:${port}`,
  connections: 16,
  duration: Number(seconds),
  requests: [
    {
      method: 'GET',
      setupRequest: (request) => ({ ...request, path: `/users/${(id++ % 100_000).toString(36)}` }),
    },
  ],
})
console.log(`${framework} ${variant}: ${result.requests.total} requests, ${result.errors} errors (${dir})`)
child.kill('SIGINT')
await new Promise((resolve) => child.once('exit', resolve))
