/**
 * Where a decision's time goes, on a private Redis that nothing else uses (so `INFO commandstats`
 * counts only this scenario): raw INCR (+ PEXPIRE when it created the key), an EVALSHA of a script
 * that only returns six integers with our arguments (the least any one-script limiter pays), and
 * @scalekit/ratelimit's GCRA and fixed window. 20 in flight over 1000 keys that never run out,
 * interleaved rounds; per contender: ops/s and its ratio to INCR, the client's CPU per decision
 * (`process.cpuUsage`), and Redis's own time per decision (`usec_per_call` of the outer command,
 * which includes the script's inner calls).
 *
 * The client (ioredis 5.9.2 at its defaults) is the same for every contender. A raw EVALSHA of our
 * GCRA script (its arguments, no limiter around it) separates the script's cost from `take()`'s; with
 * SK_RL_BEFORE=<dist dir>, `scalekit GCRA (before)` is the same limiter on that other build.
 */
import { Redis } from 'ioredis'
import * as current from '@scalekit/ratelimit'
import type { RateLimiter } from '@scalekit/ratelimit'
import { startRedisServer } from '@scalekit/test-utils'
import { gcraParams } from '../../../packages/ratelimit/src/algorithms'
import { scriptCall } from '../../../packages/ratelimit/src/drivers/redis/scripts'
import { median, printTable, timeConcurrent } from '../harness'

const BEFORE = process.env.SK_RL_BEFORE
const previous = (BEFORE === undefined ? current : await import(`${BEFORE}/index.js`)) as typeof current

/** The cheapest one-script decision: no clock, no state, six integers back (our reply's shape). */
const CONSTANT_SCRIPT = 'return {1, 1, 0, 0, 0, 0}'

interface Contender {
  readonly name: string
  /** The command whose `usec_per_call` is Redis's time per decision. */
  readonly command: 'incr' | 'evalsha'
  readonly decide: (key: string) => Promise<unknown>
}

async function commandStats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const out = new Map<string, { calls: number; usec: number }>()
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm))
    out.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) })
  return out
}

export async function runScriptCost(prefix: string, quick: boolean): Promise<unknown> {
  const server = await startRedisServer()
  const redis = new Redis(server.url)
  const limiters: RateLimiter[] = []
  const ours = (algorithm: 'gcra' | 'fixed-window', build = current): RateLimiter => {
    const limiter = build.createRateLimiter({
      redis,
      namespace: `${prefix}-cost-${algorithm}${build === current ? '' : '-before'}`,
      algorithm,
      limit: 1_000_000,
      period: '1m',
      timeout: '2s',
      onRedisError: 'closed',
      logger: { warn: () => undefined },
    })
    limiters.push(limiter)
    return limiter
  }
  try {
    const sha = (await redis.script('LOAD', CONSTANT_SCRIPT)) as string
    const gcra = ours('gcra')
    const gcraBefore = ours('gcra', previous)
    const fixed = ours('fixed-window')
    const call = scriptCall('gcra', gcraParams(1_000_000, 60_000, 1_000_000))
    await redis.script('LOAD', call.script.source)
    const contenders: Contender[] = [
      {
        name: 'raw INCR + PEXPIRE',
        command: 'incr',
        decide: async (key) => {
          const k = `${prefix}:raw:${key}`
          if ((await redis.incr(k)) === 1) await redis.pexpire(k, 60_000)
        },
      },
      {
        name: 'EVALSHA of a constant script',
        command: 'evalsha',
        // Our arguments: cost, carry, limit, periodUs, burst, intervalUs.
        decide: (key) => redis.evalsha(sha, 1, `${prefix}:const:${key}`, 1, 0, 1e6, 6e7, 1e6, 60),
      },
      {
        name: 'raw EVALSHA of the GCRA script',
        command: 'evalsha',
        decide: (key) => redis.evalsha(call.script.sha, 1, `${prefix}:rawgcra:${key}`, ...call.args(1, 0)),
      },
      { name: 'scalekit GCRA', command: 'evalsha', decide: (key) => gcra.take(key) },
      ...(BEFORE === undefined
        ? []
        : [
            {
              name: 'scalekit GCRA (before)',
              command: 'evalsha' as const,
              decide: (key: string) => gcraBefore.take(key),
            },
          ]),
      { name: 'scalekit fixed-window', command: 'evalsha', decide: (key) => fixed.take(key) },
    ]
    const rounds = quick ? 1 : 5
    const ms = quick ? 300 : 1500
    const samples = new Map(
      contenders.map((c) => [c.name, [] as { ops: number; cpu: number; usec: number }[]]),
    )
    const measure = async (c: Contender) => {
      const before = await commandStats(redis)
      const cpu = process.cpuUsage()
      const s = await timeConcurrent((loop, i) => c.decide(`k${(loop * 7919 + i) % 1000}`), 20, ms)
      const used = process.cpuUsage(cpu)
      const after = await commandStats(redis)
      const a = after.get(c.command) ?? { calls: 0, usec: 0 }
      const b = before.get(c.command) ?? { calls: 0, usec: 0 }
      return {
        ops: s.opsPerSec,
        cpu: (used.user + used.system) / s.ops,
        usec: (a.usec - b.usec) / Math.max(1, a.calls - b.calls),
      }
    }
    for (const c of contenders) await measure(c)
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < contenders.length; k++) {
        const c = contenders[(r + k) % contenders.length] as Contender
        samples.get(c.name)?.push(await measure(c))
      }
    }
    const floor = samples.get('raw INCR + PEXPIRE') ?? []
    const rows = contenders.map((c) => {
      const mine = samples.get(c.name) ?? []
      return {
        name: c.name,
        opsPerSec: Math.round(median(mine.map((m) => m.ops))),
        vsIncr: Math.round(median(mine.map((m, i) => m.ops / (floor[i]?.ops ?? 1))) * 1000) / 1000,
        clientCpuUsPerOp: Math.round(median(mine.map((m) => m.cpu)) * 100) / 100,
        redisUsecPerCall: Math.round(median(mine.map((m) => m.usec)) * 100) / 100,
      }
    })
    printTable(`decision cost on a private Redis, 20 in flight, ${rounds} rounds of ${ms} ms (medians)`, [
      ['', 'ops/s', 'vs INCR', 'client CPU µs/op', 'Redis µs/call (commandstats)'],
      ...rows.map((r) => [
        r.name,
        String(r.opsPerSec),
        `${r.vsIncr.toFixed(2)}×`,
        r.clientCpuUsPerOp.toFixed(2),
        r.redisUsecPerCall.toFixed(2),
      ]),
    ])
    return rows
  } finally {
    for (const l of limiters) await l.close()
    redis.disconnect()
    await server.close()
  }
}
