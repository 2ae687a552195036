/**
 * The HTTP side of the middleware benchmarks (session, ratelimit, observability): each variant's
 * server runs in a process of its own, autocannon loads it from the benchmark's process, and the
 * server's CPU time per request is read from it over IPC before and after each load. Rounds rotate
 * the order of the servers; each variant keeps one figure per round, so ratios to a baseline can be
 * taken within a round.
 *
 * A server script reports its port (and anything else the client needs) with `process.send` once
 * it listens, then calls `answerCpuRequests()`.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type autocannon from 'autocannon'

/** A variant's server process and the first message it sent (its port, at least). */
export interface ServerProcess<M extends { port: number } = { port: number }> {
  readonly name: string
  readonly port: number
  readonly ready: M
  readonly child: ChildProcess
}

/** What one load of one server measured. */
export interface HttpRound {
  reqPerSec: number
  /** The server's user + system CPU over the load, divided by the requests it answered. */
  cpuUsPerReq: number
  p99Ms: number
  non2xx: number
}

/** Forks `script` (a .ts file, run through tsx) with `args`, and resolves once it reports its port. */
export function startServer<M extends { port: number } = { port: number }>(
  name: string,
  script: URL,
  args: readonly string[],
): Promise<ServerProcess<M>> {
  const child = fork(fileURLToPath(script), [...args], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('message', (message) => {
      const ready = message as M
      resolve({ name, port: ready.port, ready, child })
    })
    child.once('exit', (code) => {
      reject(new Error(`${name} exited with ${code}`))
    })
  })
}

/** In a server script: answer the benchmark's `cpu` requests with `process.cpuUsage()`. */
export function answerCpuRequests(): void {
  process.on('message', (message) => {
    if (message === 'cpu') process.send?.({ cpu: process.cpuUsage() })
  })
}

function cpuMicros(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    child.once('message', (message) => {
      const { cpu } = message as { cpu: NodeJS.CpuUsage }
      resolve(cpu.user + cpu.system)
    })
    child.send('cpu')
  })
}

/**
 * One warm-up load per server, then `rounds` rounds in a rotating order, each loading every server
 * for `seconds`. Returns each server's rounds by name.
 */
export async function measureServers<S extends ServerProcess<{ port: number }>>(
  servers: readonly S[],
  options: {
    rounds: number
    seconds: number
    load: (server: S, seconds: number) => Promise<autocannon.Result>
  },
): Promise<Map<string, HttpRound[]>> {
  for (const server of servers) await options.load(server, 1)
  const results = new Map<string, HttpRound[]>(servers.map((s) => [s.name, []]))
  for (let r = 0; r < options.rounds; r++) {
    for (let k = 0; k < servers.length; k++) {
      const server = servers[(r + k) % servers.length] as S
      const before = await cpuMicros(server.child)
      const result = await options.load(server, options.seconds)
      const after = await cpuMicros(server.child)
      const requests = result.requests.total
      results.get(server.name)?.push({
        reqPerSec: requests / options.seconds,
        cpuUsPerReq: (after - before) / Math.max(1, requests),
        p99Ms: result.latency.p99,
        non2xx: result.non2xx,
      })
    }
  }
  return results
}

/** Stops every server process. */
export function stopServers(servers: readonly ServerProcess<{ port: number }>[]): void {
  for (const server of servers) server.child.kill()
}
