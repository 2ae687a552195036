/**
 * What each part of a GCRA script costs Redis, on a private Redis that nothing else uses: cut-down
 * and reshaped copies of the script, each called 20 000 times per round (20 in flight over 1000
 * keys, the GCRA script's arguments), `CONFIG RESETSTAT` before each, then `INFO commandstats`:
 * the EVALSHA's own µs per call (which includes its inner commands) and the inner commands' µs.
 * Rounds rotate the order; medians and ranges. `SK_RL_PARTS=<regexp>` picks variants by name,
 * `SK_RL_ROUNDS` sets the rounds (5).
 */
import { Redis } from 'ioredis'
import { startRedisServer } from '@scalekit/test-utils'
import { gcraParams } from '../../../packages/ratelimit/src/algorithms'
import { scriptCall } from '../../../packages/ratelimit/src/drivers/redis/scripts'
import { median, printTable } from '../harness'

const TIME = `local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
`
/** The committed script's body after TIME, with `SET_VALUE`, `SET_TAIL` and `REPLY` to vary. */
const gcraBody = (
  setValue: string,
  setTail: string,
  reply: (code: string) => string,
): string => `local raw = redis.call('GET', KEYS[1])
local tat = now
if raw then
  tat = tonumber(raw)
  if tat < now then tat = now end
end
tat = tat + ARGV[2]
local stored = tat + ARGV[1]
local allowed = stored - now <= tonumber(ARGV[3])
if not allowed then stored = tat end
local ttl = stored - now
if ttl > 0 then redis.call('SET', KEYS[1], ${setValue}, ${setTail}) elseif raw then redis.call('DEL', KEYS[1]) end
if allowed then return ${reply('ttl')} end
return ${reply('-1 - ttl')}`

const FORMAT = "string.format('%.0f', stored)"
const PX = "'PX', math.ceil(ttl / 1000)"
const pair = (code: string): string => `{${code}, now}`

export const PARTS: Readonly<Record<string, string>> = {
  'return 1': 'return 1',
  TIME: `local t = redis.call('TIME')\nreturn 1`,
  'TIME, now, {0, now}': `${TIME}return {0, now}`,
  'TIME, now, now (one integer)': `${TIME}return now`,
  'GET alone': `local raw = redis.call('GET', KEYS[1])\nreturn 1`,
  'SET constant, PX constant': `redis.call('SET', KEYS[1], '1765000000000000', 'PX', 60000)\nreturn 1`,
  'SET constant, no PX': `redis.call('SET', KEYS[1], '1765000000000000')\nreturn 1`,
  'SET constant, PX ceil(x / 1000)': `redis.call('SET', KEYS[1], '1765000000000000', 'PX', math.ceil(ARGV[3] / 1000))\nreturn 1`,
  'SET format(%.0f), PX constant': `redis.call('SET', KEYS[1], string.format('%.0f', 1765000000000000 + ARGV[1]), 'PX', 60000)\nreturn 1`,
  'SET number, PX constant': `redis.call('SET', KEYS[1], 1765000000000000 + ARGV[1], 'PX', 60000)\nreturn 1`,
  'GCRA (committed)': `${TIME}${gcraBody(FORMAT, PX, pair)}`,
  // The same script again (a comment makes it another SHA): what two runs of one script differ by.
  'GCRA (committed, again)': `${TIME}${gcraBody(FORMAT, PX, pair)}\n-- again`,
  'GCRA, stored as a number': `${TIME}${gcraBody('stored', PX, pair)}`,
  'GCRA, one integer back': `${TIME}${gcraBody(FORMAT, PX, (c) => c)}`,
  'GCRA, one integer back, {code, now} only when asked': `${TIME}${gcraBody(FORMAT, PX, (c) => `(ARGV[4] and {${c}, now} or ${c})`)}`,
  'GCRA, a string back': `${TIME}${gcraBody(FORMAT, PX, (c) => `string.format('%.0f %.0f', ${c}, now)`)}`,
  'GCRA, PXAT': `local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
${gcraBody(FORMAT, "'PXAT', math.ceil(stored / 1000)", pair)}`,
  'GCRA, no TIME (now from ARGV)': `local now = tonumber(ARGV[4])\n${gcraBody(FORMAT, PX, pair)}`,
}

// The variants are cut from the committed script's text: fail loudly if it has changed since.
if (PARTS['GCRA (committed)'] !== scriptCall('gcra', gcraParams(1, 1000, 1)).script.source)
  throw new Error('script-parts: the GCRA script changed; update its copy here')

async function commandStats(redis: Redis): Promise<Map<string, { calls: number; usec: number }>> {
  const out = new Map<string, { calls: number; usec: number }>()
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_(\w+):calls=(\d+),usec=(\d+)/gm))
    out.set(m[1] as string, { calls: Number(m[2]), usec: Number(m[3]) })
  return out
}

export async function runScriptParts(prefix: string, quick: boolean): Promise<unknown> {
  const only = process.env.SK_RL_PARTS === undefined ? undefined : new RegExp(process.env.SK_RL_PARTS)
  const names = Object.keys(PARTS).filter((n) => only === undefined || only.test(n))
  const server = await startRedisServer()
  const redis = new Redis(server.url)
  const calls = quick ? 2_000 : 20_000
  const rounds = quick ? 1 : Number(process.env.SK_RL_ROUNDS ?? 5)
  const args = scriptCall('gcra', gcraParams(1_000_000, 60_000, 1_000_000)).args(1, 0)
  try {
    const shas = new Map<string, string>()
    for (const n of names) shas.set(n, (await redis.script('LOAD', PARTS[n] as string)) as string)
    const run = async (n: string): Promise<Map<string, number>> => {
      const sha = shas.get(n) as string
      const nowMs = Date.now()
      await redis.config('RESETSTAT')
      let next = 0
      const loop = async (): Promise<void> => {
        while (next < calls) {
          const i = next++
          const key = `${prefix}:${n}:k${(i * 7919) % 1000}`
          // Only the variant that reads the time from its arguments gets a fourth one.
          if (n.includes('no TIME')) await redis.evalsha(sha, 1, key, ...args, nowMs * 1000 + i)
          else await redis.evalsha(sha, 1, key, ...args)
        }
      }
      await Promise.all(Array.from({ length: 20 }, loop))
      const stats = await commandStats(redis)
      return new Map([...stats].map(([cmd, s]) => [cmd, s.usec / Math.max(1, s.calls)]))
    }
    for (const n of names) await run(n)
    const samples = new Map(names.map((n) => [n, [] as Map<string, number>[]]))
    for (let r = 0; r < rounds; r++)
      for (let k = 0; k < names.length; k++) {
        const n = names[(r + k) % names.length] as string
        samples.get(n)?.push(await run(n))
      }
    const rows = names.map((n) => {
      const mine = samples.get(n) ?? []
      const us = (cmd: string): number | undefined => {
        const v = mine.map((m) => m.get(cmd)).filter((x): x is number => x !== undefined)
        return v.length === 0 ? undefined : Math.round(median(v) * 100) / 100
      }
      return {
        name: n,
        evalshaUs: us('evalsha'),
        evalshaRange: [
          Math.min(...mine.map((m) => m.get('evalsha') ?? 0)),
          Math.max(...mine.map((m) => m.get('evalsha') ?? 0)),
        ].map((x) => Math.round(x * 100) / 100),
        timeUs: us('time'),
        getUs: us('get'),
        setUs: us('set'),
      }
    })
    printTable(
      `Redis µs per call, private Redis, ${rounds} rounds × ${calls} calls, 20 in flight (medians)`,
      [
        ['', 'EVALSHA µs/call', 'range', 'inner TIME', 'inner GET', 'inner SET'],
        ...rows.map((r) => [
          r.name,
          String(r.evalshaUs),
          r.evalshaRange.join('–'),
          String(r.timeUs ?? '-'),
          String(r.getUs ?? '-'),
          String(r.setUs ?? '-'),
        ]),
      ],
    )
    return rows
  } finally {
    redis.disconnect()
    await server.close()
  }
}
