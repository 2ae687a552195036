/**
 * Server sessions at store level: load + save of a 1 KB session (20 fields of ~50 bytes), 20 in
 * flight, on the shared Redis — raw ioredis HGETALL + HSET (the old hash layout), raw GET + SET of one
 * JSON string (the floor), raw GET + a compare-and-set script (the floor of a write that loses no
 * concurrent update), our GETEX + write script driven by the raw client (what Redis does for us),
 * node-redis GET + SET (the client connect-redis uses), connect-redis 9's
 * `get` + `set` (what express-session does per request: the whole object), and `sessions.load` +
 * `sessions.update` (a plain GETEX, then one script that writes the session's text if its revision
 * is still the one loaded; idle expiry renewed by both) — given the loaded record, as the adapters
 * do, and given the id alone (a read before the write).
 * Then the lost-update count: 50 concurrent requests, each setting a different property of one
 * session, through express-session with its MemoryStore and connect-redis (whole-object saves) and
 * with `createSessionStore` (field-level saves).
 */
import type { AddressInfo } from 'node:net'
import { request } from 'node:http'
import { RedisStore } from 'connect-redis'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import type { Contender } from '../harness'
import { interleave, printSummaries, timeConcurrent } from '../harness'
import { FIELDS, layoutText, loadAndUpdateByHand, WRITE_SCRIPT } from './layout'
import { express, expressSession, session, sessionExpressStore } from './peers'

interface StoreContender extends Contender {
  readonly op: (i: number) => Promise<unknown>
}

/**
 * The least a write that never loses a concurrent update can cost: a compare-and-set. The value is
 * `<version>|<json>`; the script writes only if the version is still the one read. Not a layout the
 * package uses (a conflict would need a reload and retry); the floor of any lossless layout.
 */
const CAS_SCRIPT = `
local raw = redis.call('GET', KEYS[1])
if not raw or string.sub(raw, 1, #ARGV[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
return 1`

export async function runStore(redisUrl: string, runId: string, quick: boolean): Promise<unknown> {
  const redis = new Redis(redisUrl)
  const nodeRedis = createClient({ url: redisUrl })
  await nodeRedis.connect()
  const sessions = session.createSessions({ redis, prefix: `${runId}:ours` })
  // The app's own knob: ioredis then writes the commands of a tick together, as node-redis does.
  const piped = new Redis(redisUrl, { enableAutoPipelining: true })
  const pipedSessions = session.createSessions({ redis: piped, prefix: `${runId}:ours` })
  try {
    const ids = await Promise.all(Array.from({ length: 20 }, () => sessions.create({ data: FIELDS })))
    const rawKeys = ids.map((_, i) => `${runId}:raw:{${i}}`)
    const jsonKeys = ids.map((_, i) => `${runId}:json:{${i}}`)
    for (const k of rawKeys) await redis.hset(k, FIELDS)
    for (const k of jsonKeys) await redis.set(k, JSON.stringify(FIELDS))
    // Our stored text and write script, driven by the raw client: what Redis does for us, without the package.
    const writeKeys = ids.map((_, i) => `${runId}:write:{${i}}`)
    const text = layoutText(Date.now())
    for (const k of writeKeys) await redis.set(k, text, 'PX', 1_800_000)
    const writeSha = (await redis.script('LOAD', WRITE_SCRIPT)) as string
    const casKeys = ids.map((_, i) => `${runId}:cas:{${i}}`)
    for (const k of casKeys) await redis.set(k, `0|${JSON.stringify(FIELDS)}`)
    const casSha = (await redis.script('LOAD', CAS_SCRIPT)) as string
    const connectRedis = new RedisStore({ client: nodeRedis, prefix: `${runId}:cr:` })
    const cookie = {
      originalMaxAge: 1_800_000,
      expires: new Date(Date.now() + 1_800_000),
      httpOnly: true,
      path: '/',
    }
    const sids = ids.map((_, i) => `sid${i}`)
    const initial: Record<string, unknown> = { cookie, ...FIELDS }
    for (const sid of sids) await connectRedis.set(sid, initial as never)
    const contenders: StoreContender[] = [
      {
        name: 'ioredis HGETALL + HSET (the hash layout)',
        op: async (i) => {
          const k = rawKeys[i % 20] as string
          await redis.hgetall(k)
          await redis.hset(k, 'field3', String(i))
        },
      },
      {
        name: 'ioredis GET + SET JSON (floor)',
        floor: true,
        op: async (i) => {
          const k = jsonKeys[i % 20] as string
          const value = JSON.parse((await redis.get(k)) ?? '{}') as Record<string, string>
          value['field3'] = String(i)
          await redis.set(k, JSON.stringify(value), 'PX', 1_800_000)
        },
      },
      {
        name: 'ioredis GET + compare-and-set script (lossless floor)',
        op: async (i) => {
          const k = casKeys[i % 20] as string
          const raw = (await redis.get(k)) ?? '0|{}'
          const bar = raw.indexOf('|')
          const version = raw.slice(0, bar + 1)
          const value = JSON.parse(raw.slice(bar + 1)) as Record<string, string>
          value['field3'] = String(i)
          const next = `${Number(raw.slice(0, bar)) + 1}|${JSON.stringify(value)}`
          await redis.evalsha(casSha, 1, k, version, next, 1_800_000)
        },
      },
      {
        name: 'node-redis GET + SET JSON',
        op: async (i) => {
          const k = jsonKeys[i % 20] as string
          const value = JSON.parse((await nodeRedis.get(k)) ?? '{}') as Record<string, string>
          value['field3'] = String(i)
          await nodeRedis.set(k, JSON.stringify(value), { expiration: { type: 'PX', value: 1_800_000 } })
        },
      },
      {
        name: 'connect-redis 9 get + set',
        op: async (i) => {
          const sid = sids[i % 20] as string
          const value = (await connectRedis.get(sid)) as Record<string, unknown>
          value['field3'] = String(i)
          await connectRedis.set(sid, value as never)
        },
      },
      {
        name: 'ioredis GETEX + our write script (raw)',
        op: (i) => {
          const k = writeKeys[i % 20] as string
          return loadAndUpdateByHand(
            () => redis.getex(k, 'PX', 1_800_000),
            (revision, next) => redis.evalsha(writeSha, 1, k, revision, next, 1_800_000),
            String(i),
          )
        },
      },
      {
        name: 'sessions.load + update',
        op: async (i) => {
          const record = await sessions.load((ids[i % 20] as { id: string }).id)
          if (record !== undefined) await sessions.update(record, { field3: String(i) })
        },
      },
      {
        name: 'sessions.load + update by id',
        op: async (i) => {
          const id = (ids[i % 20] as { id: string }).id
          await sessions.load(id)
          await sessions.update(id, { field3: String(i) })
        },
      },
      {
        name: 'sessions.load + update, autopipelined client',
        op: async (i) => {
          const record = await pipedSessions.load((ids[i % 20] as { id: string }).id)
          if (record !== undefined) await pipedSessions.update(record, { field3: String(i) })
        },
      },
    ]
    const summaries = await interleave(contenders, quick ? 1 : 5, (c) =>
      timeConcurrent((loop, n) => c.op(loop * 1_000_003 + n), 20, quick ? 300 : 1500),
    )
    printSummaries('server sessions: load + save of a 1 KB session, 20 in flight', summaries)
    const lost = {
      'express-session + MemoryStore': await keptOf50(new expressSession.MemoryStore()),
      'express-session + connect-redis 9': await keptOf50(
        new RedisStore({ client: nodeRedis, prefix: `${runId}:crl:` }),
      ),
      'express-session + createSessionStore': await keptOf50(
        sessionExpressStore.createSessionStore({ redis, prefix: `${runId}:exs:` }),
      ),
    }
    console.log('\n50 concurrent requests, each setting a different property of one session: properties kept')
    console.table(lost)
    return { summaries, lost }
  } finally {
    await sessions.close()
    await pipedSessions.close()
    piped.disconnect()
    await nodeRedis.quit()
    const keys = await redis.keys(`*${runId}*`)
    if (keys.length > 0) await redis.del(...keys)
    redis.disconnect()
  }
}

function call(
  port: number,
  method: string,
  path: string,
  cookie?: string,
): Promise<{ body: string; cookie?: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { port, host: '127.0.0.1', method, path, headers: cookie === undefined ? {} : { cookie } },
      (res) => {
        let body = ''
        res.on('data', (c: Buffer) => (body += c.toString()))
        res.on('end', () => {
          const set = res.headers['set-cookie']?.[0]?.split(';')[0]
          resolve({ body, ...(set === undefined ? {} : { cookie: set }) })
        })
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** How many of 50 concurrent single-property changes an express-session app with `store` keeps. */
async function keptOf50(store: unknown): Promise<number> {
  const app = express()
  app.use(expressSession({ store, secret: 'bench-secret', resave: false, saveUninitialized: false }))
  type Req = { session: Record<string, unknown>; params: Record<string, string> }
  type Res = { json(body: unknown): void }
  app.post('/start', (req: Req, res: Res) => {
    req.session['started'] = true
    res.json({})
  })
  app.post('/field/:i', async (req: Req, res: Res) => {
    // A little work between load and save, as a real handler has: the saves overlap.
    await new Promise((resolve) => setImmediate(resolve))
    req.session[`f${req.params['i'] ?? ''}`] = 1
    res.json({})
  })
  app.get('/count', (req: Req, res: Res) => {
    res.json(Object.keys(req.session).filter((k) => k.startsWith('f')).length)
  })
  const server = await new Promise<import('node:http').Server>((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => {
      resolve(s)
    })
  })
  const port = (server.address() as AddressInfo).port
  try {
    const { cookie } = await call(port, 'POST', '/start')
    await Promise.all(Array.from({ length: 50 }, (_, i) => call(port, 'POST', `/field/${i}`, cookie)))
    return Number((await call(port, 'GET', '/count', cookie)).body)
  } finally {
    server.closeAllConnections()
    await new Promise((resolve) => server.close(resolve))
  }
}
