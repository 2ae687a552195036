/**
 * Profiling aid for the shard router's read path (a shard's router without replicas reads on the
 * shard's primary): point reads at 16 in flight on shard `a` (5441), one contender in a tight loop,
 * for `node --cpu-prof`. Not part of the suite. `which`: `shard` (`db.shard(key).query`), `raw`
 * (a bare `pg.Pool` on the shard), `raw-router-pool` (a `pg.Pool` with the settings a router gives
 * the pool of its primary).
 *
 *   node --cpu-prof --cpu-prof-interval 100 --cpu-prof-dir=/tmp/prof --import tsx src/db-router/profile-shard.ts shard 8000
 */
import { createShardedRouter } from '@scalekit/db-router/shards'
import pg from 'pg'
import { timeConcurrent } from '../harness'

const [which = 'shard', ms = '8000'] = process.argv.slice(2)
const SHARDS = (
  process.env.SCALEKIT_PG_SHARD_URLS ??
  'postgres://postgres@127.0.0.1:5441/test,postgres://postgres@127.0.0.1:5442/test,postgres://postgres@127.0.0.1:5443/test'
).split(',')
const T = `bench_shard_prof_${process.pid}`
const TENANTS = 1000

const db = createShardedRouter({
  shards: Object.fromEntries(['a', 'b', 'c'].map((n, i) => [n, { primary: SHARDS[i] as string }])),
  map: { strategy: 'hash' },
})
const onA = Array.from({ length: TENANTS }, (_, i) => `t${i}`).filter((t) => db.shardOf(t) === 'a')
const admin = new pg.Pool({ connectionString: SHARDS[0], max: 1 })
await admin.query(
  `CREATE TABLE ${T} (tenant_id text NOT NULL, id int NOT NULL, score int NOT NULL, PRIMARY KEY (tenant_id, id))`,
)
try {
  await admin.query(
    `INSERT INTO ${T} SELECT t, n, n * 7 FROM unnest($1::text[]) t, generate_series(1, 20) n`,
    [onA],
  )
  await admin.query(`ANALYZE ${T}`)
  const point = `SELECT id, score FROM ${T} WHERE tenant_id = $1 AND id = $2`
  const pool =
    which === 'raw'
      ? new pg.Pool({ connectionString: SHARDS[0] })
      : which === 'raw-router-pool'
        ? new pg.Pool({ connectionString: SHARDS[0], query_timeout: 30_000, allowExitOnIdle: true })
        : undefined
  await db.ready()
  const read = (i: number): Promise<unknown> => {
    const tenant = onA[i % onA.length] as string
    const values = [tenant, (i % 20) + 1]
    return pool === undefined ? db.shard(tenant).query(point, values) : pool.query(point, values)
  }
  await timeConcurrent((loop, i) => read(loop * 7 + i), 16, 1000)
  const cpu0 = process.cpuUsage()
  const sample = await timeConcurrent((loop, i) => read(loop * 7 + i), 16, Number(ms))
  const cpu = process.cpuUsage(cpu0)
  console.log(
    which,
    `${((cpu.user + cpu.system) / sample.ops).toFixed(1)} cpu µs/op (user ${(cpu.user / sample.ops).toFixed(1)})`,
    Math.round(sample.opsPerSec),
    'ops/s',
  )
  await pool?.end()
} finally {
  await admin.query(`DROP TABLE IF EXISTS ${T}`)
  await admin.end()
  await db.close()
}
