import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'

export type AppName = 'express' | 'fastify'

/** A running example: the API process (and, with RabbitMQ, its worker process). */
export interface RunningApp {
  readonly url: string
  /** `embedded` (one process, no server) or `services` (the env vars point at real servers). */
  readonly mode: 'embedded' | 'services'
  /** Every line either process wrote so far (pino JSON lines, one per log record). */
  readonly logs: () => readonly string[]
  /** SIGTERM to each process (graceful shutdown), then their exit codes. */
  readonly stop: () => Promise<(number | null)[]>
}

/** The variables that switch a part to a real service; none set = embedded. */
export const serviceVariables = [
  'DATABASE_URL',
  'DATABASE_REPLICA_URLS',
  'DATABASE_SHARD_URLS',
  'REDIS_URL',
  'REDIS_CLUSTER_NODES',
  'AMQP_URL',
] as const

function launch(
  app: AppName,
  file: string,
  env: NodeJS.ProcessEnv,
  lines: string[],
  ready: RegExp,
  timeoutMs: number,
) {
  const cwd = fileURLToPath(new URL(`../../../${app}-app/`, import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', file], {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      resolve(code)
    }),
  )
  const started = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(
        new Error(`${app} ${file} did not start within ${timeoutMs} ms:\n${lines.slice(-20).join('\n')}`),
      )
    }, timeoutMs)
    let rest = ''
    const onData = (chunk: Buffer): void => {
      rest += chunk.toString('utf8')
      const parts = rest.split('\n')
      rest = parts.pop() ?? ''
      for (const line of parts) {
        lines.push(line)
        if (ready.test(line)) {
          clearTimeout(timer)
          resolve(line)
        }
      }
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exited.then((code) => {
      clearTimeout(timer)
      reject(
        new Error(`${app} ${file} exited (${code}) before it was ready:\n${lines.slice(-20).join('\n')}`),
      )
    })
  })
  return { child, exited, started }
}

async function stopChild(child: ChildProcess, exited: Promise<number | null>): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  child.kill('SIGTERM')
  const killer = setTimeout(() => child.kill('SIGKILL'), 25_000)
  const code = await exited
  clearTimeout(killer)
  return code
}

/**
 * Starts an example app on a free port (`PORT=0`) with `tsx`, as `npm start` would; with
 * `AMQP_URL` and `DATABASE_URL` set, also its worker process (`npm run worker`).
 */
export async function startApp(
  app: AppName,
  env: Record<string, string | undefined> = {},
  timeoutMs = 90_000,
): Promise<RunningApp> {
  // An empty value unsets a variable: `{ REDIS_URL: '' }` runs that part embedded whatever the shell says.
  const fullEnv: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries({
      ...process.env,
      PORT: '0',
      // The scenario's burst of 500 requests on a loaded 2-core machine can delay the event loop past
      // the app's 1 s shedding threshold; the demo measures the cache, not the shedder.
      SHED_EVENT_LOOP_DELAY_MS: process.env['SHED_EVENT_LOOP_DELAY_MS'] ?? '10000',
      ...env,
    }).filter(([, value]) => typeof value === 'string' && value.length > 0),
  )
  const lines: string[] = []
  const api = launch(app, 'src/server.ts', fullEnv, lines, /"msg":"listening"/, timeoutMs)
  const processes = [api]
  try {
    const listening = JSON.parse(await api.started) as { url: string; inProcessWorker: boolean }
    if (!listening.inProcessWorker) {
      const worker = launch(app, 'src/worker.ts', fullEnv, lines, /"msg":"worker started"/, timeoutMs)
      processes.push(worker)
      await worker.started
    }
    return {
      url: listening.url,
      mode: serviceVariables.some((name) => fullEnv[name] !== undefined) ? 'services' : 'embedded',
      logs: () => lines,
      stop: () => Promise.all(processes.map(({ child, exited }) => stopChild(child, exited))),
    }
  } catch (error) {
    await Promise.all(processes.map(({ child, exited }) => stopChild(child, exited)))
    throw error
  }
}
