/**
 * Through Express over HTTP (autocannon, 16 connections): a bare route, `authenticate` (JWT, with and
 * without the verified-token cache), `session` (a Redis session per request) and express-session +
 * connect-redis 9 (the peer; a session loaded and touched per request). Each server runs
 * in its own process; figures are req/s and server CPU µs per request, medians over rounds, ratios
 * to bare taken within each round.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { median } from '../harness'

const VARIANTS = ['bare', 'jwt', 'jwt-nocache', 'session', 'express-session'] as const

interface Server {
  readonly name: string
  readonly port: number
  readonly headers: Record<string, string>
  readonly child: ChildProcess
}

function start(variant: string, redisUrl: string, prefix: string): Promise<Server> {
  const child = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [variant, redisUrl, prefix], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('message', (message) => {
      const m = message as { port: number; accessToken: string; cookie: string }
      const headers: Record<string, string> =
        variant === 'session' || variant === 'express-session'
          ? { cookie: m.cookie }
          : variant === 'bare'
            ? {}
            : { authorization: `Bearer ${m.accessToken}` }
      resolve({ name: variant, port: m.port, headers, child })
    })
    child.once('exit', (code) => {
      reject(new Error(`${variant} exited with ${code}`))
    })
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

export async function runHttp(redisUrl: string, runId: string, quick: boolean): Promise<unknown> {
  const seconds = quick ? 1 : 4
  const rounds = quick ? 1 : 3
  const servers: Server[] = []
  for (const v of VARIANTS) servers.push(await start(v, redisUrl, `${runId}:http`))
  const load = (s: Server, d: number): Promise<autocannon.Result> =>
    autocannon({ url: `http://127.0.0.1:${s.port}/r`, connections: 16, duration: d, headers: s.headers })
  try {
    for (const s of servers) await load(s, 1)
    const results = new Map<string, { rps: number; cpu: number; non2xx: number }[]>(
      servers.map((s) => [s.name, []]),
    )
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < servers.length; k++) {
        const s = servers[(r + k) % servers.length] as Server
        const before = await cpuMicros(s.child)
        const result = await load(s, seconds)
        const after = await cpuMicros(s.child)
        results.get(s.name)?.push({
          rps: result.requests.total / seconds,
          cpu: (after - before) / Math.max(1, result.requests.total),
          non2xx: result.non2xx,
        })
      }
    }
    const bare = results.get('bare') ?? []
    const rows = servers.map((s) => {
      const mine = results.get(s.name) ?? []
      return {
        variant: s.name,
        reqPerSec: Math.round(median(mine.map((m) => m.rps))),
        cpuUsPerReq: Math.round(median(mine.map((m) => m.cpu)) * 10) / 10,
        cpuVsBare: Math.round(median(mine.map((m, i) => m.cpu / (bare[i]?.cpu ?? 1))) * 100) / 100,
        non2xx: mine.reduce((a, m) => a + m.non2xx, 0),
      }
    })
    console.log(`\nExpress GET /r, 16 connections, ${rounds} × ${seconds} s, medians`)
    console.table(rows)
    return rows
  } finally {
    for (const s of servers) s.child.kill()
  }
}
