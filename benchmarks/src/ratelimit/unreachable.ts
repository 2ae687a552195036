/**
 * Redis gone: each contender on an app client left at ioredis' defaults, pointed at a port nothing
 * listens on. How long the first 3 decisions take and how they end (capped at 15 s each).
 */
import { Redis } from 'ioredis'
import { freePort } from '@scalekit/test-utils'
import { printTable, withCap } from '../harness'
import { ALL, makeSubjects } from './contenders'

export async function runUnreachable(prefix: string): Promise<unknown> {
  const port = await freePort()
  const rows: (readonly string[])[] = [['', 'first 3 decisions', 'outcome']]
  const out: Record<string, unknown> = {}
  for (const name of ALL) {
    const redis = new Redis({ port, host: '127.0.0.1' })
    redis.on('error', () => undefined)
    const [s] = await makeSubjects(redis, `${prefix}:down`, { limit: 100, periodMs: 1000, timeoutMs: 100 }, [
      name,
    ])
    const started = performance.now()
    const outcomes: string[] = []
    for (let i = 0; i < 3; i++) {
      const r = await withCap(
        s!.decide('k').then(
          (allowed) => (allowed ? 'allowed' : 'refused'),
          (error: unknown) => `threw ${(error as Error).message.slice(0, 40)}`,
        ),
        15_000,
      )
      outcomes.push(r.timedOut ? 'still pending at 15 s' : r.value)
      if (r.timedOut) break
    }
    const ms = performance.now() - started
    rows.push([name, `${(ms / 1000).toFixed(2)} s`, [...new Set(outcomes)].join('; ')])
    out[name] = { ms, outcomes }
    await s!.close()
    redis.disconnect()
  }
  printTable('Redis unreachable (nothing listens), ioredis 5 defaults', rows)
  return out
}
