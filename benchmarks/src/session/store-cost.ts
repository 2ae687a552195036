/**
 * Where a load + save of a 1 KB session costs, 20 in flight: client CPU (process.cpuUsage) and Redis
 * CPU (`INFO cpu`: the server process's user + system time) per pair, for raw HGETALL + HSET, raw GET + SET of one JSON string
 * (ioredis, the floor of our layout), our layout and write script driven by hand, connect-redis 9 `get` + `set` and `sessions.load` +
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
import { FIELDS, layoutText, loadAndUpdateByHand, WRITE_SCRIPT } from './layout'
import { session } from './peers'

const url = process.argv[2] ?? 'redis://127.0.0.1:6391'
const n = Number(process.argv[3] ?? 4000)
const redis = new Redis(url)
const nodeRedis = createClient({ url })
await nodeRedis.connect()
const sessions = session.createSessions({ redis, prefix: 'cost' })
const ids = await Promise.all(Array.from({ length: 20 }, () => sessions.create({ data: FIELDS })))
// The app's own knob: ioredis then writes the commands of a tick together, as node-redis does.
const piped = new Redis(url, { enableAutoPipelining: true })
const pipedSessions = session.createSessions({ redis: piped, prefix: 'cost' })
const raw = ids.map((_, i) => `cost:raw:{${i}}`)
for (const k of raw) await redis.hset(k, FIELDS)
const json = ids.map((_, i) => `cost:json:{${i}}`)
for (const k of json) await redis.set(k, JSON.stringify(FIELDS))
const layout = ids.map((_, i) => `cost:layout:{${i}}`)
for (const k of layout) await redis.set(k, layoutText(Date.now()), 'PX', 1_800_000)
const writeSha = (await redis.script('LOAD', WRITE_SCRIPT)) as string
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
  'our layout by hand (GETEX + write script)': (i) => {
    const k = layout[i % 20] as string
    return loadAndUpdateByHand(
      () => redis.getex(k, 'PX', 1_800_000),
      (revision, next) => redis.evalsha(writeSha, 1, k, revision, next, 1_800_000),
      String(i),
    )
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

/**
 * Redis's own CPU so far (µs, `INFO cpu`: user + system, its networking included) and how many
 * EVALSHAs it ran. Not `INFO commandstats` usec: that counts a command a script calls both in the
 * script's figure and in its own, so a script's inner GET and SET would be counted twice.
 */
async function redisStats(): Promise<{ usec: number; scripts: number }> {
  const cpu = await redis.info('cpu')
  const seconds = (name: string): number => Number(new RegExp(`${name}:([\\d.]+)`).exec(cpu)?.[1] ?? 0)
  const scripts = /cmdstat_evalsha:calls=(\d+)/.exec(await redis.info('commandstats'))?.[1]
  return {
    usec: (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6,
    scripts: Number(scripts ?? 0),
  }
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
