/**
 * One key hammered (limit 100 per second, 20 in flight, nearly every decision refused): decisions
 * per second and Redis commands per decision (INFO commandstats of the whole server, so on a quiet
 * Redis). Our local fast path against rate-limiter-flexible with and without its in-memory block.
 */
import type { Redis } from 'ioredis'
import { formatOps, printTable, timeConcurrent } from '../harness'
import { makeSubjects } from './contenders'

async function commands(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats')
  let n = 0
  for (const m of stats.matchAll(/^cmdstat_\w+:calls=(\d+)/gm)) n += Number(m[1])
  return n
}

export async function runHammered(redis: Redis, prefix: string, quick: boolean): Promise<unknown> {
  const rows: (readonly string[])[] = [['', 'decisions/s', 'allowed', 'Redis commands per decision']]
  const out: Record<string, unknown> = {}
  for (const block of [true, false]) {
    const which = block ? ['scalekit GCRA', 'rate-limiter-flexible'] : ['rate-limiter-flexible']
    const subjects = await makeSubjects(
      redis,
      `${prefix}:ham${block ? 'b' : ''}`,
      { limit: 100, periodMs: 1000, burst: 10, rlfInMemoryBlock: block },
      which,
    )
    for (const s of subjects) {
      let allowed = 0
      const before = await commands(redis)
      const sample = await timeConcurrent(
        async (_loop, i) => {
          if (await s.decide('hot')) allowed += 1
          // Requests reach a server through I/O: let it run between answers that need none (a
          // loop of in-process refusals would otherwise starve the Redis replies and the timers).
          if (i % 32 === 31) await new Promise((resolve) => setImmediate(resolve))
        },
        20,
        quick ? 500 : 3000,
      )
      // The INFO call itself counts one.
      const used = (await commands(redis)) - before - 1
      const name =
        s.name === 'rate-limiter-flexible' ? `${s.name}${block ? ' (inMemoryBlockOnConsumed)' : ''}` : s.name
      rows.push([name, formatOps(sample.opsPerSec), String(allowed), (used / sample.ops).toFixed(4)])
      out[name] = { opsPerSec: sample.opsPerSec, allowed, commandsPerDecision: used / sample.ops }
      await s.close()
    }
  }
  printTable('one key hammered: limit 100/s, 20 in flight', rows)
  return out
}
