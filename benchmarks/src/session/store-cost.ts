/**
 * Where a load + save of a 1 KB session costs, 20 in flight: client CPU (process.cpuUsage) and Redis
 * CPU (`INFO commandstats` usec) per pair, for raw HGETALL + HSET, raw GET + SET of one JSON string
 * (ioredis, the floor of our layout), connect-redis 9 `get` + `set` and `sessions.load` +
 * `sessions.update`, and how many scripts each pair ran (ours: more than 1 when a write met another
 * one first). Give it a Redis of its own, so the command stats count only this client:
 *
 *   redis-server --port 6391 --save "" --daemonize yes --pidfile /tmp/sk-6391.pid
 *   npx tsx src/session/store-cost.ts redis://127.0.0.1:6391 4000
 *   kill "$(cat /tmp/sk-6391.pid)"
 */
import { RedisStore } from 'connect-redis'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { session } from './peers'

const url = process.argv[2] ?? 'redis://127.0.0.1:6391'
const n = Number(process.argv[3] ?? 4000)
const redis = new Redis(url)
const nodeRedis = createClient({ url })
await nodeRedis.connect()
const FIELDS = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`field${i}`, 'x'.repeat(48)]))
const sessions = session.createSessions({ redis, prefix: 'cost' })
const ids = await Promise.all(Array.from({ length: 20 }, () => sessions.create({ data: FIELDS })))
// The app's own knob: ioredis then writes the commands of a tick together, as node-redis does.
const piped = new Redis(url, { enableAutoPipelining: true })
const pipedSessions = session.createSessions({ redis: piped, prefix: 'cost' })
const raw = ids.map((_, i) => `cost:raw:{${i}}`)
for (const k of raw) await redis.hset(k, FIELDS)
const json = ids.map((_, i) => `cost:json:{${i}}`)
for (const k of json) await redis.set(k, JSON.stringify(FIELDS))
const store = new RedisStore({ client: nodeRedis, prefix: 'cost:cr:' })
const cookie = {
  originalMaxAge: 1_800_000,
  expires: new Date(Date.now() + 1_800_000),
  httpOnly: true,
  path: '/',
}
const initial: Record<string, unknown> = { cookie, ...FIELDS }
for (let i = 0; i < 20; i++) await store.set(`s${i}`, initial as never)

const ops: Record<string, (i: number) => Promise<unknown>> = {
  'HGETALL + HSET': async (i) => {
    const k = raw[i % 20] as string
    await redis.hgetall(k)
    await redis.hset(k, 'field3', String(i))
  },
  'ioredis GET + SET JSON': async (i) => {
    const k = json[i % 20] as string
    const value = JSON.parse((await redis.get(k)) ?? '{}') as Record<string, string>
    value['field3'] = String(i)
    await redis.set(k, JSON.stringify(value), 'PX', 1_800_000)
  },
  'connect-redis get + set': async (i) => {
    const value = (await store.get(`s${i % 20}`)) as Record<string, unknown>
    value['field3'] = String(i)
    await store.set(`s${i % 20}`, value as never)
  },
  'sessions.load + update': async (i) => {
    const record = await sessions.load((ids[i % 20] as { id: string }).id)
    if (record !== undefined) await sessions.update(record, { field3: String(i) })
  },
  'sessions.load + update, autopipelined': async (i) => {
    const record = await pipedSessions.load((ids[i % 20] as { id: string }).id)
    if (record !== undefined) await pipedSessions.update(record, { field3: String(i) })
  },
}

/** Redis's CPU so far (µs, all commands but INFO) and how many EVALSHAs it ran. */
async function redisStats(): Promise<{ usec: number; scripts: number }> {
  let usec = 0
  let scripts = 0
  for (const m of (await redis.info('commandstats')).matchAll(/cmdstat_([\w|]+):calls=(\d+),usec=(\d+)/g)) {
    if (m[1] !== 'info') usec += Number(m[3])
    if (m[1] === 'evalsha') scripts += Number(m[2])
  }
  return { usec, scripts }
}

async function run(op: (i: number) => Promise<unknown>, count: number) {
  let i = 0
  const worker = async (): Promise<void> => {
    while (i < count) await op(i++)
  }
  const before = await redisStats()
  const cpu = process.cpuUsage()
  const start = performance.now()
  await Promise.all(Array.from({ length: 20 }, worker))
  const used = process.cpuUsage(cpu)
  const seconds = (performance.now() - start) / 1000
  const after = await redisStats()
  return {
    clientUs: Math.round(((used.user + used.system) / count) * 10) / 10,
    redisUs: Math.round(((after.usec - before.usec) / count) * 10) / 10,
    // Ours: 1 per pair, more when a write met another one first and was made again.
    scriptsPerPair: Math.round(((after.scripts - before.scripts) / count) * 1000) / 1000,
    opsPerSec: Math.round(count / seconds),
  }
}

for (const op of Object.values(ops)) await run(op, 1000)
const rows: { op: string; clientUs: number; redisUs: number; scriptsPerPair: number; opsPerSec: number }[] =
  []
for (const name of [...Object.keys(ops), ...Object.keys(ops).reverse()])
  rows.push({ op: name, ...(await run(ops[name] as (i: number) => Promise<unknown>, n)) })
console.table(rows)
await sessions.close()
await pipedSessions.close()
redis.disconnect()
piped.disconnect()
await nodeRedis.quit()
process.exit(0)
