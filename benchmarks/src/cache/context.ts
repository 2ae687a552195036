/** What every cache scenario shares: where Redis is, this run's key prefix, the value shape, the cleanup. */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'

export interface BenchContext {
  /** The shared Redis (`SCALEKIT_REDIS_URL`, default `redis://127.0.0.1:6379`). */
  readonly redisUrl: string
  /** In every key this run writes, so nothing collides with tests or other runs, and cleanup finds it all. */
  readonly runId: string
  /** Shorter runs (fewer rounds, shorter loops) for a smoke test: `BENCH_QUICK=1`. */
  readonly quick: boolean
}

export function createContext(): BenchContext {
  const id = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`
  return {
    redisUrl: process.env.SCALEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379',
    runId: `skbench_${id}`,
    quick: process.env.BENCH_QUICK === '1',
  }
}

/** A user record of about 200 bytes of JSON, the value every scenario caches. */
export function userValue(id: number): {
  id: number
  name: string
  email: string
  roles: string[]
  plan: string
  createdAt: string
  active: boolean
  score: number
} {
  return {
    id,
    name: `User Number ${id}`,
    email: `user.${id}@example.com`,
    roles: ['reader', 'writer', 'billing'],
    plan: 'business-annual',
    createdAt: new Date(Date.UTC(2024, 0, 1) + id * 60_000).toISOString(),
    active: true,
    score: 4_217.5,
  }
}

/** Deletes every key of this run (SCAN + UNLINK); returns how many. */
export async function cleanupRedis(ctx: BenchContext): Promise<number> {
  const client = new Redis(ctx.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  let deleted = 0
  try {
    await client.connect()
    let cursor = '0'
    do {
      const [next, keys] = await client.scan(cursor, 'MATCH', `*${ctx.runId}*`, 'COUNT', 1000)
      cursor = next
      if (keys.length > 0) deleted += await client.unlink(...keys)
    } while (cursor !== '0')
  } finally {
    client.disconnect()
  }
  return deleted
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
