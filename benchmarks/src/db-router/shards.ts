/**
 * @scalekit/db-router shards: (1) routing overhead of `db.shard(key).query()` and of `db.query()`
 * reading the key from the statement, against raw pg on the owning shard (point reads, 16 in
 * flight, adjacent slots A B / B A); (2) a cross-shard `ORDER BY … LIMIT 100` over three shards
 * against the same query on one database holding every row. Prints medians and writes
 * benchmarks/results/db-router-shards.json.
 *
 *   flock /tmp/scalekit-bench.lock pnpm --filter @scalekit/benchmarks exec tsx src/db-router/shards.ts
 *
 * Needs the shard clusters (5441–5443, `scripts/services.sh up --shards`) and the test database
 * (5432). Creates one uniquely named table on each and drops it at the end. BENCH_QUICK=1: short slots.
 *
 * Before/after in one process: `SK_DBR_SHARDS_BEFORE=<a copy of an older build's dist>` (a directory
 * with `shards.js`, a `package.json` of `{"type":"module"}` and `node_modules` links to `pg`,
 * `libpg-query`, `fastify-plugin`) adds a rotation of raw pg, raw pg with pg's `query_timeout`, raw
 * pg with the settings a router gives the pool of its primary (`query_timeout`, `allowExitOnIdle`),
 * the older build's `db.shard(key).query` and the current one, in the order A B C D E / E D C B A
 * per round, each as a ratio to raw pg in the same round (results/db-router-shards-abba.json).
 * `SK_DBR_SHARDS_ONLY=point` runs that rotation (or the first comparison) alone.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { createShardedRouter } from '@scalekit/db-router/shards'
import pg from 'pg'
import { machineInfo, median, timeConcurrent } from '../harness'

const env = (name: string, fallback: string): string => process.env[name] ?? fallback
const SHARDS = env(
  'SCALEKIT_PG_SHARD_URLS',
  'postgres://postgres@127.0.0.1:5441/test,postgres://postgres@127.0.0.1:5442/test,postgres://postgres@127.0.0.1:5443/test',
).split(',')
const ONE = env('SCALEKIT_PG_URL', 'postgres://postgres@127.0.0.1:5432/test')
const QUICK = process.env.BENCH_QUICK === '1'
const T = `bench_shards_${process.pid}`
const ROWS = 30_000
const TENANTS = 1000
const SLOT_MS = QUICK ? 300 : 1500
const PAIRS = QUICK ? 3 : 10
const BEFORE = process.env.SK_DBR_SHARDS_BEFORE
const ONLY_POINT = process.env.SK_DBR_SHARDS_ONLY === 'point'

async function admin(url: string, text: string, values: unknown[] = []): Promise<pg.QueryResultRow[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<pg.QueryResultRow>(text, values)).rows
  } finally {
    await client.end()
  }
}

const names = ['a', 'b', 'c']
const db = createShardedRouter({
  shards: Object.fromEntries(names.map((n, i) => [n, { primary: SHARDS[i] as string }])),
  map: { strategy: 'hash' },
  shardColumn: 'tenant_id',
})
/** A point read through `db.shard(key)`, its arguments built once per read as for raw pg (the harness's work is the same on both sides). */
const shardRead = (
  router: Pick<typeof db, 'shard'>,
  text: string,
  values: [string, number],
): Promise<unknown> => router.shard(values[0]).query(text, values)
const DDL = `CREATE TABLE ${T} (tenant_id text NOT NULL, id int NOT NULL, score int NOT NULL, PRIMARY KEY (tenant_id, id))`
const FILL = `INSERT INTO ${T} SELECT 't' || (g % ${TENANTS}), g, (g * 7919) % 100000 FROM generate_series(1, ${ROWS}) g`

/** Median ratio of adjacent slots (ours ÷ floor), and each side's median ops/s and client CPU µs per op. */
async function pairs(
  floor: (i: number) => Promise<unknown>,
  ours: (i: number) => Promise<unknown>,
  inFlight: number,
): Promise<{ ratio: number; floorOps: number; oursOps: number; floorCpuUs: number; oursCpuUs: number }> {
  const slot = async (op: (i: number) => Promise<unknown>) => {
    const before = process.cpuUsage()
    const s = await timeConcurrent((loop, i) => op(loop * 100_003 + i), inFlight, SLOT_MS)
    const used = process.cpuUsage(before)
    return { ops: s.opsPerSec, cpu: (used.user + used.system) / Math.max(1, s.ops) }
  }
  await slot(floor)
  await slot(ours)
  const r: number[] = []
  const f: number[] = []
  const o: number[] = []
  const fc: number[] = []
  const oc: number[] = []
  for (let p = 0; p < PAIRS; p += 1) {
    const [a, b] = p % 2 === 0 ? [await slot(floor), await slot(ours)] : [undefined, await slot(ours)]
    const fl = a ?? (await slot(floor))
    r.push(b.ops / fl.ops)
    f.push(fl.ops)
    o.push(b.ops)
    fc.push(fl.cpu)
    oc.push(b.cpu)
  }
  return {
    ratio: median(r),
    floorOps: median(f),
    oursOps: median(o),
    floorCpuUs: median(fc),
    oursCpuUs: median(oc),
  }
}

interface Slot {
  ops: number
  cpu: number
}

async function slotOf(op: (i: number) => Promise<unknown>, inFlight: number): Promise<Slot> {
  const before = process.cpuUsage()
  const s = await timeConcurrent((loop, i) => op(loop * 100_003 + i), inFlight, SLOT_MS)
  const used = process.cpuUsage(before)
  return { ops: s.opsPerSec, cpu: (used.user + used.system) / Math.max(1, s.ops) }
}

/**
 * Every contender once per round, forward then backward on alternate rounds (A B C D / D C B A), so
 * each sees the same drift of the machine's load; per contender, the median of its ratio to the
 * first (the floor) in the same round, its median ops/s and client CPU µs per op.
 */
async function rotation(
  contenders: ReadonlyArray<readonly [string, (i: number) => Promise<unknown>]>,
  inFlight: number,
  rounds: number,
): Promise<Record<string, { ratio: number; ops: number; cpuUs: number; ratios: number[] }>> {
  for (const [, op] of contenders) await slotOf(op, inFlight)
  const slots = contenders.map((): Slot[] => [])
  for (let r = 0; r < rounds; r += 1) {
    const order = contenders.map((_, i) => i)
    if (r % 2 === 1) order.reverse()
    for (const i of order)
      (slots[i] as Slot[]).push(await slotOf((contenders[i] as (typeof contenders)[number])[1], inFlight))
  }
  const floor = slots[0] as Slot[]
  return Object.fromEntries(
    contenders.map(([name], c) => {
      const mine = slots[c] as Slot[]
      const ratios = mine.map((s, r) => s.ops / (floor[r] as Slot).ops)
      return [
        name,
        {
          ratio: median(ratios),
          ops: median(mine.map((s) => s.ops)),
          cpuUs: median(mine.map((s) => s.cpu)),
          ratios,
        },
      ]
    }),
  )
}

const machine = machineInfo()
console.log(
  `@scalekit/db-router shards — ${machine.date}, Node ${machine.node}, ${machine.cpu} × ${machine.cores}`,
)
const raw = new pg.Pool({ connectionString: SHARDS[0] })
const one = new pg.Pool({ connectionString: ONE })
try {
  for (const url of [...SHARDS, ONE]) await admin(url, DDL)
  await admin(ONE, FILL)
  await db.ready()
  const all = Array.from({ length: TENANTS }, (_, i) => `t${i}`)
  for (const [i, name] of names.entries()) {
    const mine = all.filter((t) => db.shardOf(t) === name)
    await admin(SHARDS[i] as string, `${FILL} WHERE 't' || (g % ${TENANTS}) = ANY($1)`, [mine])
  }
  for (const url of [...SHARDS, ONE]) await admin(url, `ANALYZE ${T}`)
  const onA = all.filter((t) => db.shardOf(t) === 'a')
  const point = `SELECT id, score FROM ${T} WHERE tenant_id = $1 AND id = $2`
  const args = (i: number): [string, number] => {
    const tenant = onA[i % onA.length] as string
    return [tenant, Number(tenant.slice(1)) + TENANTS * (i % 20)]
  }
  if (BEFORE !== undefined) {
    type Create = typeof createShardedRouter
    const older = (
      (await import(`${BEFORE}/shards.js`)) as { createShardedRouter: Create }
    ).createShardedRouter({
      shards: Object.fromEntries(names.map((n, i) => [n, { primary: SHARDS[i] as string }])),
      map: { strategy: 'hash' },
      shardColumn: 'tenant_id',
    })
    const timed = new pg.Pool({ connectionString: SHARDS[0], query_timeout: 30_000 })
    // The pool settings a router gives the pool of a primary it creates (src/nodes/pools.ts).
    const routerLike = new pg.Pool({
      connectionString: SHARDS[0],
      query_timeout: 30_000,
      allowExitOnIdle: true,
    })
    try {
      await older.ready()
      const rounds = QUICK ? 4 : 2 * PAIRS
      const loadBefore = machineInfo().loadAverage1m
      const rot = await rotation(
        [
          ['raw pg', (i) => raw.query(point, args(i))],
          ['raw pg + query_timeout', (i) => timed.query(point, args(i))],
          ['raw pg as the router sets it', (i) => routerLike.query(point, args(i))],
          ['before: db.shard(key).query', (i) => shardRead(older, point, args(i))],
          ['after: db.shard(key).query', (i) => shardRead(db, point, args(i))],
        ],
        16,
        rounds,
      )
      console.log(
        `point read, 16 in flight, rotation of ${rounds} rounds × ${SLOT_MS} ms (load average ${loadBefore} → ${machineInfo().loadAverage1m}):`,
      )
      const out = fileURLToPath(new URL('../../results/', import.meta.url))
      mkdirSync(out, { recursive: true })
      writeFileSync(
        `${out}db-router-shards-abba${QUICK ? '-quick' : ''}.json`,
        `${JSON.stringify({ machine, slotMs: SLOT_MS, rounds, loadBefore, loadAfter: machineInfo().loadAverage1m, rotation: rot }, null, 2)}\n`,
      )
      for (const [name, r] of Object.entries(rot))
        console.log(
          `  ${name.padEnd(30)} ${r.ops.toFixed(0).padStart(6)} ops/s  × raw pg ${r.ratio.toFixed(3)}  client CPU ${r.cpuUs.toFixed(1)} µs/op`,
        )
      const b = rot['before: db.shard(key).query']?.ratios ?? []
      const a = rot['after: db.shard(key).query']?.ratios ?? []
      console.log(
        `  after ÷ before, per round, median ${median(a.map((x, k) => x / (b[k] as number))).toFixed(3)}`,
      )
    } finally {
      await older.close()
      await timed.end()
      await routerLike.end()
    }
  }
  if (BEFORE === undefined || !ONLY_POINT) await comparisons(point, args)
} finally {
  await db.close()
  await raw.end()
  await one.end()
  for (const url of [...SHARDS, ONE]) await admin(url, `DROP TABLE IF EXISTS ${T}`).catch(() => undefined)
}

/** The fixed comparisons: through the shard, the lookup alone, the key from the statement, the cross-shard top 100. */
async function comparisons(point: string, args: (i: number) => [string, number]): Promise<void> {
  const viaShard = await pairs(
    (i) => raw.query(point, args(i)),
    (i) => shardRead(db, point, args(i)),
    16,
  )
  console.log(
    `point read, 16 in flight: db.shard(key).query ${viaShard.oursOps.toFixed(0)} ops/s vs raw pg on the shard ${viaShard.floorOps.toFixed(0)} — ratio ${viaShard.ratio.toFixed(3)}; client CPU ${viaShard.oursCpuUs.toFixed(1)} vs ${viaShard.floorCpuUs.toFixed(1)} µs/op`,
  )
  if (ONLY_POINT) return
  const lookup = await pairs(
    (i) => db.router('a').query(point, args(i)),
    (i) => shardRead(db, point, args(i)),
    16,
  )
  console.log(
    `point read, 16 in flight: db.shard(key).query ${lookup.oursOps.toFixed(0)} ops/s vs the shard's router directly ${lookup.floorOps.toFixed(0)} — ratio ${lookup.ratio.toFixed(3)} (the shard lookup alone); client CPU ${lookup.oursCpuUs.toFixed(1)} vs ${lookup.floorCpuUs.toFixed(1)} µs/op`,
  )
  const viaStatement = await pairs(
    (i) => raw.query(point, args(i)),
    (i) => db.query(point, args(i)),
    16,
  )
  console.log(
    `point read, 16 in flight: db.query (key from the statement) ${viaStatement.oursOps.toFixed(0)} ops/s vs raw pg ${viaStatement.floorOps.toFixed(0)} — ratio ${viaStatement.ratio.toFixed(3)}; client CPU ${viaStatement.oursCpuUs.toFixed(1)} vs ${viaStatement.floorCpuUs.toFixed(1)} µs/op`,
  )
  const top = `SELECT tenant_id, id, score FROM ${T} ORDER BY score DESC, id LIMIT 100`
  const expected = (await one.query(top)).rows
  const got = (await db.queryAllShards(top)).rows
  if (JSON.stringify(got) !== JSON.stringify(expected))
    throw new Error('cross-shard ORDER BY … LIMIT differs from one database')
  const cross = await pairs(
    () => one.query(top),
    () => db.queryAllShards(top),
    4,
  )
  console.log(
    `ORDER BY score DESC, id LIMIT 100 over ${ROWS} rows, 4 in flight: three shards ${cross.oursOps.toFixed(0)} ops/s vs one database ${cross.floorOps.toFixed(0)} — ratio ${cross.ratio.toFixed(3)}; client CPU ${cross.oursCpuUs.toFixed(1)} vs ${cross.floorCpuUs.toFixed(1)} µs/op`,
  )
  const out = fileURLToPath(new URL('../../results/', import.meta.url))
  mkdirSync(out, { recursive: true })
  writeFileSync(
    `${out}db-router-shards${QUICK ? '-quick' : ''}.json`,
    `${JSON.stringify(
      {
        machine,
        slotMs: SLOT_MS,
        pairs: PAIRS,
        pointViaShard: viaShard,
        shardLookupOnly: lookup,
        pointViaStatement: viaStatement,
        crossShardTop100: cross,
      },
      null,
      2,
    )}\n`,
  )
}
