/**
 * The contenders of the rate-limit benchmark, each as "decide one request of `key`" on one ioredis
 * client: raw INCR, and PEXPIRE when it created the key (the floor: a fixed window with no script),
 * @scalekit/ratelimit (GCRA, and the fixed window), rate-limiter-flexible's RateLimiterRedis (a
 * fixed window in one script) and express-rate-limit's Redis store (rate-limit-redis, one script),
 * the call express-rate-limit's middleware makes per request. Two floors for a one-script limiter:
 * an EVALSHA of a script that only returns (what any script costs over INCR here) and a raw EVALSHA of
 * our GCRA script with its arguments (what `take()` adds over the script call). With SK_RL_BEFORE=<dist
 * dir>, `scalekit GCRA (before)` and `scalekit fixed-window (before)` run the same limiters on that other build.
 */
import type { Redis } from 'ioredis'
import * as current from '@scalekit/ratelimit'
import type { RateLimiter } from '@scalekit/ratelimit'
import { RedisStore } from 'rate-limit-redis'
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible'
import { gcraParams } from '../../../packages/ratelimit/src/algorithms'
import { scriptCall } from '../../../packages/ratelimit/src/drivers/redis/scripts'

/** With SK_RL_BEFORE=<dist dir of another build>, that build's limiter for `scalekit GCRA (before)`. */
const BEFORE = process.env.SK_RL_BEFORE
const previous = (BEFORE === undefined ? current : await import(`${BEFORE}/index.js`)) as typeof current

/** One decision: true when allowed. Rejects only when the limiter fails (Redis down). */
export type Decide = (key: string) => Promise<boolean>

export interface Subject {
  readonly name: string
  readonly floor?: boolean
  readonly decide: Decide
  readonly close: () => Promise<void>
}

export interface Limits {
  readonly limit: number
  readonly periodMs: number
  /** GCRA's burst. @default limit */
  readonly burst?: number
  /** rate-limiter-flexible's in-memory block (on by default here, as its docs advise under attack). */
  readonly rlfInMemoryBlock?: boolean
  readonly timeoutMs?: number
}

export async function makeSubjects(
  redis: Redis,
  prefix: string,
  l: Limits,
  which: readonly string[],
): Promise<Subject[]> {
  const all: Record<string, () => Promise<Subject>> = {
    'raw INCR + PEXPIRE': () =>
      Promise.resolve({
        name: 'raw INCR + PEXPIRE',
        floor: true,
        decide: async (key) => {
          const window = Math.floor(Date.now() / l.periodMs)
          const k = `${prefix}:raw:${key}:${window}`
          // The classic fixed window: INCR, and PEXPIRE when it created the key (one round trip mostly).
          const hits = await redis.incr(k)
          if (hits === 1) await redis.pexpire(k, l.periodMs)
          return hits <= l.limit
        },
        close: () => Promise.resolve(),
      }),
    'raw EVALSHA, a script that only returns': async () => {
      const sha = (await redis.script('LOAD', 'return 1')) as string
      return {
        name: 'raw EVALSHA, a script that only returns',
        decide: async (key) => (await redis.evalsha(sha, 1, `${prefix}:nop:${key}`)) === 1,
        close: () => Promise.resolve(),
      }
    },
    'raw EVALSHA of the GCRA script': async () => {
      const call = scriptCall('gcra', gcraParams(l.limit, l.periodMs, l.burst ?? l.limit))
      await redis.script('LOAD', call.script.source)
      return {
        name: 'raw EVALSHA of the GCRA script',
        decide: async (key) => {
          const reply = await redis.evalsha(
            call.script.sha,
            1,
            `${prefix}:rawgcra:${key}`,
            ...call.args(1, 0),
          )
          return ((reply as number[])[0] as number) >= 0
        },
        close: () => Promise.resolve(),
      }
    },
    'scalekit GCRA': () => Promise.resolve(ours('scalekit GCRA', 'gcra')),
    'scalekit GCRA (before)': () => Promise.resolve(ours('scalekit GCRA (before)', 'gcra', previous)),
    'scalekit fixed-window': () => Promise.resolve(ours('scalekit fixed-window', 'fixed-window')),
    'scalekit fixed-window (before)': () =>
      Promise.resolve(ours('scalekit fixed-window (before)', 'fixed-window', previous)),
    'rate-limiter-flexible': () => {
      const rlf = new RateLimiterRedis({
        storeClient: redis,
        keyPrefix: `${prefix}:rlf`,
        points: l.limit,
        duration: l.periodMs / 1000,
        ...(l.rlfInMemoryBlock === true
          ? { inMemoryBlockOnConsumed: l.limit, inMemoryBlockDuration: l.periodMs / 1000 }
          : {}),
      })
      return Promise.resolve({
        name: 'rate-limiter-flexible',
        decide: async (key) => {
          try {
            await rlf.consume(key)
            return true
          } catch (error) {
            if (error instanceof RateLimiterRes) return false
            throw error
          }
        },
        close: () => Promise.resolve(),
      })
    },
    'express-rate-limit + rate-limit-redis': () => {
      const store = new RedisStore({
        prefix: `${prefix}:erl:`,
        sendCommand: (command: string, ...args: string[]) => redis.call(command, ...args) as never,
      })
      // What express-rate-limit does once at start-up (without waiting for it).
      void Promise.resolve(store.init({ windowMs: l.periodMs } as never)).catch(() => undefined)
      return Promise.resolve({
        name: 'express-rate-limit + rate-limit-redis',
        decide: async (key) => (await store.increment(key)).totalHits <= l.limit,
        close: () => Promise.resolve(),
      })
    },
  }
  function ours(name: string, algorithm: 'gcra' | 'fixed-window', build = current): Subject {
    const limiter: RateLimiter = build.createRateLimiter({
      redis,
      namespace: `${prefix}-${algorithm}${build === current ? '' : '-before'}`,
      algorithm,
      limit: l.limit,
      period: l.periodMs,
      ...(algorithm === 'gcra' ? { burst: l.burst ?? l.limit } : {}),
      // Generous by default: on a loaded machine a round trip can pass 100 ms; `unreachable` sets 100.
      timeout: l.timeoutMs ?? 2_000,
      onRedisError: 'closed',
      logger: { warn: () => undefined },
    })
    return {
      name,
      decide: async (key) => {
        const d = await limiter.take(key)
        if (d.source === 'fail-closed') throw new Error('scalekit: Redis unavailable (fail-closed decision)')
        return d.allowed
      },
      close: () => limiter.close(),
    }
  }
  const out: Subject[] = []
  for (const name of which) {
    const make = all[name]
    if (make === undefined) throw new Error(`unknown subject ${name}`)
    out.push(await make())
  }
  return out
}

export const ALL = [
  'raw INCR + PEXPIRE',
  'scalekit GCRA',
  'scalekit fixed-window',
  'rate-limiter-flexible',
  'express-rate-limit + rate-limit-redis',
] as const

/** The decisions scenario's contenders: ALL, the script floors, and the `before` build when given. */
export const DECISIONS = [
  ...ALL,
  'raw EVALSHA, a script that only returns',
  'raw EVALSHA of the GCRA script',
  ...(BEFORE === undefined ? [] : ['scalekit GCRA (before)', 'scalekit fixed-window (before)']),
]
