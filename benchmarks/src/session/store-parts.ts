/**
 * What each part of a load + update costs on the client, against our layout driven by raw ioredis:
 * load + save of a 1 KB session, 20 in flight, many short rounds in alternating order, each row's
 * pairs/s and client CPU per pair taken as a ratio (and a difference) to the raw layout's in the same
 * round, medians over the rounds. The rows:
 *
 * - connect-redis 9 on node-redis, and node-redis and ioredis GET + SET of the JSON: the peer and
 *   the two clients' floors;
 * - `raw layout`: GETEX, then our write script (read from the package's source) by EVALSHA;
 * - the raw layout plus one part of what the package must do per pair: the session id hashed for
 *   the key (ids are stored hashed), a deadline on each call (every remote call has a timeout, on
 *   the package's own `DeadlineSweep`), the script run through `RedisScript` (EVAL on NOSCRIPT), and
 *   all three together;
 * - `sessions.load + update`: the package.
 *
 * Give it a Redis of its own:
 *
 *   redis-server --port 6391 --save "" --daemonize yes --pidfile /tmp/sk-6391.pid
 *   npx tsx src/session/store-parts.ts redis://127.0.0.1:6391 [pairs per round, 5000] [rounds, 30]
 *   kill "$(cat /tmp/sk-6391.pid)"
 */
import { hash } from 'node:crypto'
import { RedisStore } from 'connect-redis'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { DeadlineSweep, RedisScript } from '../../../packages/internal/src/index'
import { median } from '../harness'
import { FIELDS, layoutText, loadAndUpdateByHand, WRITE_SCRIPT } from './layout'
import { session } from './peers'

const url = process.argv[2] ?? 'redis://127.0.0.1:6391'
const pairs = Number(process.argv[3] ?? 5000)
const rounds = Number(process.argv[4] ?? 30)

const redis = new Redis(url)
const nodeRedis = createClient({ url })
await nodeRedis.connect()
const sessions = session.createSessions({ redis, prefix: 'parts' })
const ids = (await Promise.all(Array.from({ length: 20 }, () => sessions.create({ data: FIELDS })))).map(
  (r) => r.id,
)
const now = Date.now()
const text = layoutText(now)
const layoutKeys = ids.map((_, i) => `parts:layout:{${i}}`)
const hashedKeys = ids.map((id) => `parts:hashed:{${hash('sha256', id, 'base64url')}}`)
for (const k of [...layoutKeys, ...hashedKeys]) await redis.set(k, text, 'PX', 1_800_000)
const json = ids.map((_, i) => `parts:json:{${i}}`)
for (const k of json) await redis.set(k, JSON.stringify(FIELDS))
const connectRedis = new RedisStore({ client: nodeRedis, prefix: 'parts:cr:' })
const cookie = { originalMaxAge: 1_800_000, expires: new Date(now + 1_800_000), httpOnly: true, path: '/' }
const initial: Record<string, unknown> = { cookie, ...FIELDS }
for (let i = 0; i < 20; i++) await connectRedis.set(`s${i}`, initial as never)
const script = new RedisScript(WRITE_SCRIPT)
const sha = (await redis.script('LOAD', WRITE_SCRIPT)) as string
const sweep = new DeadlineSweep()

function bounded<T>(work: Promise<T>): Promise<T> {
  return sweep.race(work, 1000, () => new Error('timed out'))
}

/** Our layout by hand, with the parts the package adds switched on one by one. */
function layout(parts: { hashed?: boolean; deadline?: boolean; redisScript?: boolean }) {
  return async (i: number): Promise<void> => {
    const key = parts.hashed
      ? `parts:hashed:{${hash('sha256', ids[i % 20] as string, 'base64url')}}`
      : (layoutKeys[i % 20] as string)
    const written = await loadAndUpdateByHand(
      () => (parts.deadline ? bounded(redis.getex(key, 'PX', 1_800_000)) : redis.getex(key, 'PX', 1_800_000)),
      (revision, next) => {
        const write = parts.redisScript
          ? script.run(redis, [key], [revision, next, 1_800_000])
          : redis.evalsha(sha, 1, key, revision, next, 1_800_000)
        return parts.deadline ? bounded(write) : write
      },
      String(i),
    )
    if (written !== 1) throw new Error('the write met another one')
  }
}

const ops: Record<string, (i: number) => Promise<unknown>> = {
  'raw layout (GETEX + write script)': layout({}),
  'connect-redis 9 get + set': async (i) => {
    const value = (await connectRedis.get(`s${i % 20}`)) as Record<string, unknown>
    value['field3'] = String(i)
    await connectRedis.set(`s${i % 20}`, value as never)
  },
  'node-redis GET + SET JSON': async (i) => {
    const k = json[i % 20] as string
    const value = JSON.parse((await nodeRedis.get(k)) ?? '{}') as Record<string, string>
    value['field3'] = String(i)
    await nodeRedis.set(k, JSON.stringify(value), { expiration: { type: 'PX', value: 1_800_000 } })
  },
  'ioredis GET + SET JSON': async (i) => {
    const k = json[i % 20] as string
    const value = JSON.parse((await redis.get(k)) ?? '{}') as Record<string, string>
    value['field3'] = String(i)
    await redis.set(k, JSON.stringify(value), 'PX', 1_800_000)
  },
  '+ hashed id': layout({ hashed: true }),
  '+ deadline per call': layout({ deadline: true }),
  '+ RedisScript (NOSCRIPT fallback)': layout({ redisScript: true }),
  '+ all three': layout({ hashed: true, deadline: true, redisScript: true }),
  'sessions.load + update': async (i) => {
    const record = await sessions.load(ids[i % 20] as string)
    if (record !== undefined) await sessions.update(record, { field3: String(i) })
  },
}

async function run(op: (i: number) => Promise<unknown>, count: number) {
  let i = 0
  const worker = async (): Promise<void> => {
    while (i < count) await op(i++)
  }
  const cpu = process.cpuUsage()
  const start = performance.now()
  await Promise.all(Array.from({ length: 20 }, worker))
  const used = process.cpuUsage(cpu)
  return { perSec: count / ((performance.now() - start) / 1000), cpuUs: (used.user + used.system) / count }
}

const names = Object.keys(ops)
for (const name of names) await run(ops[name] as (i: number) => Promise<unknown>, 2000)
const results = new Map<string, { perSec: number; cpuUs: number }[]>(names.map((n) => [n, []]))
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 === 0 ? names : [...names].reverse())
    results.get(name)?.push(await run(ops[name] as (i: number) => Promise<unknown>, pairs))
}
const base = results.get(names[0] as string) ?? []
console.log(
  `load + update of a 1 KB session, 20 in flight; ${rounds} rounds of ${pairs} pairs; per round vs the raw layout`,
)
console.table(
  names.map((name) => {
    const mine = results.get(name) ?? []
    return {
      op: name,
      'pairs/s': Math.round(median(mine.map((m) => m.perSec))),
      'vs raw layout': median(mine.map((m, j) => m.perSec / (base[j]?.perSec ?? 1))).toFixed(3),
      'client µs/pair': median(mine.map((m) => m.cpuUs)).toFixed(1),
      'µs vs raw layout': median(mine.map((m, j) => m.cpuUs - (base[j]?.cpuUs ?? 0))).toFixed(1),
    }
  }),
)
await sessions.close()
sweep.clear()
redis.disconnect()
await nodeRedis.quit()
process.exit(0)
