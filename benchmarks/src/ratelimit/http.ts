/**
 * The middleware over HTTP (autocannon, 16 connections): a bare route against the same route behind
 * the rate limiter, on Redis and in memory, for Express and Fastify. Each server runs in its own
 * process; figures are req/s and server CPU µs per request, medians over rounds, ratios to the
 * framework's bare route taken within each round, and for the Redis-backed ones to the `evalsha`
 * floor (the bare route plus one raw EVALSHA of the same script, no limiter logic). `SK_RL_BEFORE` adds each limited variant on another
 * build (`-before`), for a before/after in the same run. `SK_RL_ROUNDS` and `SK_RL_SECONDS` change the
 * rounds (3) and their length (4 s).
 */
import autocannon from 'autocannon'
import { median } from '../harness'
import { type ServerProcess, measureServers, startServer, stopServers } from '../http-servers'

const VARIANTS = [
  'express-bare',
  'express-incr',
  'express-evalsha',
  'express-redis',
  'express-memory',
  'fastify-bare',
  'fastify-headers',
  'fastify-dynamic',
  'fastify-promise',
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

export async function runHttp(redisUrl: string, runId: string, quick: boolean): Promise<unknown> {
  const seconds = quick ? 1 : Number(process.env.SK_RL_SECONDS ?? 4)
  const rounds = quick ? 1 : Number(process.env.SK_RL_ROUNDS ?? 3)
  const servers: ServerProcess[] = []
  const script = new URL('./server.ts', import.meta.url)
  try {
    for (const v of variants()) servers.push(await startServer(v, script, [v, redisUrl, runId]))
    const results = await measureServers(servers, {
      rounds,
      seconds,
      load: (s, d) => autocannon({ url: `http://127.0.0.1:${s.port}/r`, connections: 16, duration: d }),
    })
    const rows = servers.map((s) => {
      const mine = results.get(s.name) ?? []
      const bare = results.get(`${s.name.split('-')[0]}-bare`) ?? []
      const floor = results.get(`${s.name.split('-')[0]}-evalsha`) ?? []
      return {
        variant: s.name,
        reqPerSec: Math.round(median(mine.map((m) => m.reqPerSec))),
        rpsVsBare:
          Math.round(median(mine.map((m, i) => m.reqPerSec / (bare[i]?.reqPerSec ?? 1))) * 1000) / 1000,
        cpuUsPerReq: Math.round(median(mine.map((m) => m.cpuUsPerReq)) * 10) / 10,
        cpuVsBare:
          Math.round(median(mine.map((m, i) => m.cpuUsPerReq / (bare[i]?.cpuUsPerReq ?? 1))) * 100) / 100,
        cpuVsEvalsha: s.name.includes('redis')
          ? Math.round(median(mine.map((m, i) => m.cpuUsPerReq / (floor[i]?.cpuUsPerReq ?? 1))) * 100) / 100
          : undefined,
        non2xx: mine.reduce((a, m) => a + m.non2xx, 0),
        // Each round's figure, for ratios between any two variants taken within a round.
        cpuUsPerReqByRound: mine.map((m) => Math.round(m.cpuUsPerReq * 100) / 100),
      }
    })
    console.log(`\nGET /r, 16 connections, ${rounds} × ${seconds} s, medians`)
    console.table(rows.map(({ cpuUsPerReqByRound: _rounds, ...row }) => row))
    return rows
  } finally {
    stopServers(servers)
  }
}
