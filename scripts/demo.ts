/**
 * The demo (`npm run demo`, after scripts/demo.sh installed and built): starts an example app (and
 * its worker when RabbitMQ is configured) on free ports, drives the scenario of
 * examples/app-core/src/demo/scenario.ts against it over HTTP, prints what it measured, stops the
 * app gracefully and exits 0. No variable set: embedded defaults, no server needed. `DEMO_APP=fastify`
 * runs the Fastify app instead of the Express one.
 */
import { formatReport, runScenario, serviceVariables, startApp } from '../examples/app-core/src/demo/index.js'
import type { AppName } from '../examples/app-core/src/demo/index.js'

const app: AppName = process.env['DEMO_APP'] === 'fastify' ? 'fastify' : 'express'
const configured = serviceVariables.filter((name) => (process.env[name] ?? '') !== '')
const started = performance.now()
const seconds = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`

console.log(
  configured.length === 0
    ? `scalekit demo: the ${app} app on embedded defaults — no server: Postgres is PGlite (WebAssembly) over the wire protocol, the cache memory-only, the queue in-memory (this process, not durable; the worker runs in the API process), refresh families in memory`
    : `scalekit demo: the ${app} app against real services (${configured.join(', ')} set)`,
)
const running = await startApp(app, {
  REFRESH_GRACE_MS: '0', // a reused refresh token is reuse at once (the default grace of 10 s forgives a second tab)
  RATE_LIMIT_NAMESPACE: `demo-${Date.now()}`, // a fresh login limit per run, also on a shared Redis
  LOGIN_RATE_LIMIT: '10', // five customers and an admin log in before the guessing starts
  SIMULATE_FAULTS: '1', // the scenario's orders ask the e-mail stub to fail (a retry, a dead letter)
})
console.log(`started ${running.url} (${running.mode}) in ${seconds()}\n`)
let failed = false
try {
  const report = await runScenario(running.url, running.logs)
  for (const line of formatReport(report)) console.log(line)
} catch (error) {
  failed = true
  console.error('demo: the scenario failed:', error)
  console.error(running.logs().slice(-20).join('\n'))
}
const codes = await running.stop()
console.log(
  `\nstopped: SIGTERM, graceful shutdown, exit code${codes.length > 1 ? 's' : ''} ${codes.join(', ')}; ${seconds()} in all`,
)
process.exit(failed || codes.some((code) => code !== 0) ? 1 : 0)
