/**
 * The CPU one request costs in our code, in-process (no sockets): an in-memory limiter's `take()`,
 * the Fastify hook and the Express middleware, each on a request object shaped like the framework's
 * (peer address, headers, route), keyed by `byIp()`, allowed. CPU µs per call from
 * `process.cpuUsage`, which a loaded machine inflates less than wall time. With
 * SK_RL_BEFORE=<dist dir of another build>, the same calls on that build, in alternating rounds.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import * as current from '@scalekit/ratelimit'
import * as currentExpress from '@scalekit/ratelimit/express'
import * as currentFastify from '@scalekit/ratelimit/fastify'
import { median, printTable } from '../harness'

interface Build {
  readonly name: string
  readonly core: typeof current
  readonly express: typeof currentExpress
  readonly fastify: typeof currentFastify
}

async function builds(): Promise<Build[]> {
  const out: Build[] = [{ name: 'current', core: current, express: currentExpress, fastify: currentFastify }]
  const before = process.env.SK_RL_BEFORE
  if (before !== undefined)
    out.push({
      name: 'before',
      core: (await import(`${before}/index.js`)) as typeof current,
      express: (await import(`${before}/express.js`)) as typeof currentExpress,
      fastify: (await import(`${before}/fastify.js`)) as typeof currentFastify,
    })
  return out
}

/** CPU µs per call of `op` (awaited one at a time), over `n` calls. */
async function cpuPerCall(op: () => Promise<unknown>, n: number): Promise<number> {
  const start = process.cpuUsage()
  for (let i = 0; i < n; i++) await op()
  const used = process.cpuUsage(start)
  return (used.user + used.system) / n
}

function operations(build: Build): Record<string, () => Promise<unknown>> {
  const limiter = build.core.createRateLimiter({
    namespace: `cpu-${build.name}`,
    limit: 1_000_000_000,
    period: '1d',
  })
  const socket = { remoteAddress: '127.0.0.1' }
  const headers = { host: '127.0.0.1', accept: '*/*' }
  const hook = build.fastify.rateLimitHook({ limiter, key: build.fastify.byIp() }) as (
    ...args: unknown[]
  ) => unknown
  const fastifyRequest = {
    raw: { socket, url: '/r' },
    headers,
    method: 'GET',
    routeOptions: { url: '/r' },
  }
  const reply = {
    header: () => reply,
    headers: () => reply,
    code: () => reply,
    send: () => reply,
  }
  const middleware = build.express.rateLimit({ limiter, key: build.express.byIp() })
  const expressRequest = {
    socket,
    headers,
    url: '/r',
    method: 'GET',
    path: '/r',
    baseUrl: '',
    route: { path: '/r' },
  }
  const response = { setHeader: () => response, end: () => response, statusCode: 200 }
  return {
    'take() in memory': () => limiter.take('ip:127.0.0.1'),
    'Fastify rateLimitHook': () =>
      // An async hook (an older build) settles a promise; a callback hook calls done().
      new Promise<void>((resolve) => {
        const returned = hook(fastifyRequest, reply, resolve)
        if (returned instanceof Promise)
          void returned.then(() => {
            resolve()
          })
      }),
    'Express rateLimit': () =>
      new Promise<void>((resolve) => {
        middleware(
          expressRequest as unknown as IncomingMessage,
          response as unknown as ServerResponse,
          () => {
            resolve()
          },
        )
      }),
  }
}

export async function runAdapterCpu(quick: boolean): Promise<unknown> {
  const n = quick ? 20_000 : 200_000
  const rounds = quick ? 1 : 5
  const subjects = (await builds()).map((b) => ({ build: b.name, ops: operations(b) }))
  const names = Object.keys(subjects[0]?.ops ?? {})
  const samples = new Map<string, number[]>()
  for (const s of subjects) for (const op of names) await cpuPerCall(s.ops[op]!, n / 4)
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? subjects : [...subjects].reverse()
    for (const s of order)
      for (const op of names) {
        const key = `${op}|${s.build}`
        samples.set(key, [...(samples.get(key) ?? []), await cpuPerCall(s.ops[op]!, n)])
      }
  }
  const rows = names.map((op) => {
    const now = median(samples.get(`${op}|current`) ?? [])
    const before = samples.get(`${op}|before`)
    return {
      op,
      cpuUs: Math.round(now * 1000) / 1000,
      beforeCpuUs: before === undefined ? undefined : Math.round(median(before) * 1000) / 1000,
    }
  })
  printTable(`our code's CPU per request, in-process, ${rounds} rounds × ${n} calls (medians)`, [
    ['', 'CPU µs/call', 'before (SK_RL_BEFORE)'],
    ...rows.map((r) => [
      r.op,
      r.cpuUs.toFixed(3),
      r.beforeCpuUs === undefined ? '-' : r.beforeCpuUs.toFixed(3),
    ]),
  ])
  return rows
}
