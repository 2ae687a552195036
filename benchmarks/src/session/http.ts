/**
 * Through Express over HTTP (autocannon, 16 connections): a bare route (twice, for the method's
 * noise), the floors of an async middleware without and with a request context, `authenticate`
 * (JWT, with and without the verified-token cache, and without the request context), `session` (a
 * Redis session per request) and express-session + connect-redis 9 (the peer; a session loaded and
 * touched per request). Each server runs in its own process; figures are req/s and server CPU µs per
 * request, medians over rounds, ratios to bare taken within each round. `BENCH_HTTP_VARIANTS`,
 * `BENCH_HTTP_ROUNDS` and `BENCH_SESSION_BUILDS` (below) narrow a run or add a before/after.
 */
import autocannon from 'autocannon'
import { median } from '../harness'
import { type ServerProcess, measureServers, startServer, stopServers } from '../http-servers'

const VARIANTS = [
  'bare',
  'bare2',
  'hop',
  'als-hop',
  'jwt',
  'jwt-nocontext',
  'jwt-nocache',
  'session',
  'express-session',
] as const

/** The servers without the package: a bare route, a second one (the method's own noise), and the floors of an async middleware. */
function isFloor(name: string): boolean {
  return name === 'bare' || name === 'bare2' || name === 'hop' || name === 'als-hop'
}

/** `BENCH_SESSION_BUILDS=before=<dist>,…`: other builds of the package (copies of `dist/` kept in packages/session). */
function otherBuilds(): [string, string][] {
  const given = process.env.BENCH_SESSION_BUILDS?.split(',').filter((b) => b.includes('=')) ?? []
  return given.map((b) => [b.slice(0, b.indexOf('=')), b.slice(b.indexOf('=') + 1)])
}

/** `BENCH_HTTP_VARIANTS=bare,jwt` runs those servers only (bare always); `BENCH_HTTP_ROUNDS` sets the rounds. */
function selectedVariants(): readonly string[] {
  const asked = process.env.BENCH_HTTP_VARIANTS?.split(',').filter((v) => v !== '')
  if (asked === undefined || asked.length === 0) return VARIANTS
  const unknown = asked.filter((v) => !(VARIANTS as readonly string[]).includes(v))
  if (unknown.length > 0) throw new Error(`unknown BENCH_HTTP_VARIANTS: ${unknown.join(', ')}`)
  return VARIANTS.filter((v) => v === 'bare' || asked.includes(v))
}

type Server = ServerProcess<{ port: number; accessToken: string; cookie: string }>

/** Every variant gets the same request bytes: bare receives (and ignores) both credentials. */
function headersOf(server: Server): Record<string, string> {
  const name = server.name.replace(/@.*$/, '')
  if (isFloor(name))
    return { authorization: `Bearer ${server.ready.accessToken}`, cookie: server.ready.cookie }
  if (name === 'session' || name === 'express-session') return { cookie: server.ready.cookie }
  return { authorization: `Bearer ${server.ready.accessToken}` }
}

export async function runHttp(redisUrl: string, runId: string, quick: boolean): Promise<unknown> {
  const seconds = quick ? 1 : 4
  const rounds = quick ? 1 : Number(process.env.BENCH_HTTP_ROUNDS ?? 3)
  const servers: Server[] = []
  const script = new URL('./server.ts', import.meta.url)
  try {
    for (const v of selectedVariants())
      servers.push(await startServer(v, script, [v, redisUrl, `${runId}:http`]))
    // BENCH_SESSION_BUILDS=before=<dist>,…: each package variant also runs on those builds.
    for (const [label, dir] of otherBuilds())
      for (const v of selectedVariants().filter((name) => !isFloor(name))) {
        process.env.SCALEKIT_SESSION_DIST = dir
        try {
          servers.push(await startServer(`${v}@${label}`, script, [v, redisUrl, `${runId}:http`]))
        } finally {
          delete process.env.SCALEKIT_SESSION_DIST
        }
      }
    const results = await measureServers(servers, {
      rounds,
      seconds,
      load: (s, d) =>
        autocannon({
          url: `http://127.0.0.1:${s.port}/r`,
          connections: 16,
          duration: d,
          headers: headersOf(s),
        }),
    })
    const bare = results.get('bare') ?? []
    const rows = servers.map((s) => {
      const mine = results.get(s.name) ?? []
      // Another build's server is compared with the current build's server of the same variant.
      const other = s.name.includes('@')
      const current = results.get(s.name.replace(/@.*$/, '')) ?? []
      const ratios = (against: readonly { cpuUsPerReq: number }[]): number[] =>
        mine.map((m, i) => m.cpuUsPerReq / (against[i]?.cpuUsPerReq ?? 1))
      const thousandths = (x: number): number => Math.round(x * 1000) / 1000
      return {
        variant: s.name,
        reqPerSec: Math.round(median(mine.map((m) => m.reqPerSec))),
        cpuUsPerReq: Math.round(median(mine.map((m) => m.cpuUsPerReq)) * 10) / 10,
        cpuVsBare: Math.round(median(ratios(bare)) * 100) / 100,
        non2xx: mine.reduce((a, m) => a + m.non2xx, 0),
        // For another build's server: its CPU per request over the current build's, median of the rounds.
        vsCurrent: other ? thousandths(median(ratios(current))) : undefined,
        // Each round's ratio behind the median (to bare; for another build, to the current one).
        rounds: (other ? ratios(current) : ratios(bare)).map(thousandths),
      }
    })
    console.log(`\nExpress GET /r, 16 connections, ${rounds} × ${seconds} s, medians`)
    console.table(rows.map(({ rounds: _rounds, ...row }) => row))
    for (const row of rows) console.log(`${row.variant} per round: ${row.rounds.join(' ')}`)
    return rows
  } finally {
    stopServers(servers)
  }
}
