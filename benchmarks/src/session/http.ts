/**
 * Through Express over HTTP (autocannon, 16 connections): a bare route, `authenticate` (JWT, with and
 * without the verified-token cache, and without the request context), `session` (a Redis session
 * per request) and express-session + connect-redis 9 (the peer; a session loaded and touched per
 * request). Each server runs in its own process; figures are req/s and server CPU µs per request,
 * medians over rounds, ratios to bare taken within each round.
 */
import autocannon from 'autocannon'
import { median } from '../harness'
import { type ServerProcess, measureServers, startServer, stopServers } from '../http-servers'

const VARIANTS = ['bare', 'jwt', 'jwt-nocontext', 'jwt-nocache', 'session', 'express-session'] as const

type Server = ServerProcess<{ port: number; accessToken: string; cookie: string }>

/** Every variant gets the same request bytes: bare receives (and ignores) both credentials. */
function headersOf(server: Server): Record<string, string> {
  if (server.name === 'bare')
    return { authorization: `Bearer ${server.ready.accessToken}`, cookie: server.ready.cookie }
  if (server.name === 'session' || server.name === 'express-session') return { cookie: server.ready.cookie }
  return { authorization: `Bearer ${server.ready.accessToken}` }
}

export async function runHttp(redisUrl: string, runId: string, quick: boolean): Promise<unknown> {
  const seconds = quick ? 1 : 4
  const rounds = quick ? 1 : 3
  const servers: Server[] = []
  const script = new URL('./server.ts', import.meta.url)
  try {
    for (const v of VARIANTS) servers.push(await startServer(v, script, [v, redisUrl, `${runId}:http`]))
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
      return {
        variant: s.name,
        reqPerSec: Math.round(median(mine.map((m) => m.reqPerSec))),
        cpuUsPerReq: Math.round(median(mine.map((m) => m.cpuUsPerReq)) * 10) / 10,
        cpuVsBare:
          Math.round(median(mine.map((m, i) => m.cpuUsPerReq / (bare[i]?.cpuUsPerReq ?? 1))) * 100) / 100,
        non2xx: mine.reduce((a, m) => a + m.non2xx, 0),
      }
    })
    console.log(`\nExpress GET /r, 16 connections, ${rounds} × ${seconds} s, medians`)
    console.table(rows)
    return rows
  } finally {
    stopServers(servers)
  }
}
