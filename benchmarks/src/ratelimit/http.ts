/**
 * The middleware over HTTP (autocannon, 16 connections): a bare route against the same route behind
 * the rate limiter, on Redis and in memory, for Express and Fastify. Each server runs in its own
 * process; figures are req/s and server CPU µs per request, medians over rounds, ratios to the
 * framework's bare route taken within each round, and for the Redis-backed ones to the `evalsha`
 * floor (the bare route plus one raw EVALSHA of the same script, no limiter logic). `SK_RL_BEFORE` adds each limited variant on another
 * build (`-before`), for a before/after in the same run.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import { median } from '../harness'

const VARIANTS = [
  'express-bare',
  'express-incr',
  'express-evalsha',
  'express-redis',
  'express-memory',
  'fastify-bare',
  'fastify-headers',
  'fastify-incr',
  'fastify-evalsha',
  'fastify-redis',
  'fastify-memory',
]

/** With SK_RL_BEFORE=<dist dir of another build>, the limited variants again on that build. */
const BEFORE = process.env.SK_RL_BEFORE
/** SK_RL_VARIANTS=<regexp>: only the variants it matches, and the bare route of their framework. */
const ONLY = process.env.SK_RL_VARIANTS === undefined ? undefined : new RegExp(process.env.SK_RL_VARIANTS)
const all = (): string[] =>
  BEFORE === undefined
    ? VARIANTS
    : [
        ...VARIANTS,
        ...VARIANTS.filter((v) => v.endsWith('redis') || v.endsWith('memory')).map((v) => `${v}-before`),
      ]
const variants = (): string[] =>
  all().filter(
    (v) =>
      ONLY === undefined ||
      ONLY.test(v) ||
      (v.endsWith('-bare') && all().some((w) => ONLY.test(w) && w.split('-')[0] === v.split('-')[0])),
  )

interface Server {
  readonly name: string
  readonly port: number
  readonly child: ChildProcess
}

function start(variant: string, redisUrl: string, prefix: string): Promise<Server> {
  const child = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), [variant, redisUrl, prefix], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  return new Promise((resolve, reject) => {
    child.once('message', (message) => {
      resolve({ name: variant, port: (message as { port: number }).port, child })
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
  for (const v of variants()) servers.push(await start(v, redisUrl, runId))
  const load = (s: Server, d: number): Promise<autocannon.Result> =>
    autocannon({ url: `http://127.0.0.1:${s.port}/r`, connections: 16, duration: d })
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
    const rows = servers.map((s) => {
      const mine = results.get(s.name) ?? []
      const bare = results.get(`${s.name.split('-')[0]}-bare`) ?? []
      const floor = results.get(`${s.name.split('-')[0]}-evalsha`) ?? []
      return {
        variant: s.name,
        reqPerSec: Math.round(median(mine.map((m) => m.rps))),
        rpsVsBare: Math.round(median(mine.map((m, i) => m.rps / (bare[i]?.rps ?? 1))) * 1000) / 1000,
        cpuUsPerReq: Math.round(median(mine.map((m) => m.cpu)) * 10) / 10,
        cpuVsBare: Math.round(median(mine.map((m, i) => m.cpu / (bare[i]?.cpu ?? 1))) * 100) / 100,
        cpuVsEvalsha: s.name.includes('redis')
          ? Math.round(median(mine.map((m, i) => m.cpu / (floor[i]?.cpu ?? 1))) * 100) / 100
          : undefined,
        non2xx: mine.reduce((a, m) => a + m.non2xx, 0),
      }
    })
    console.log(`\nGET /r, 16 connections, ${rounds} × ${seconds} s, medians`)
    console.table(rows)
    return rows
  } finally {
    for (const s of servers) s.child.kill()
  }
}
