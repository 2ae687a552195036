/**
 * Profiling aid for the shard router's read path (a shard's router without replicas reads on the
 * shard's primary): point reads at 16 in flight on shard `a` (5441), one contender in a tight loop,
 * for `node --cpu-prof`. Not part of the suite. `which`: `shard` (`db.shard(key).query`), `raw`
 * (a bare `pg.Pool` on the shard), `raw-router-pool` (a `pg.Pool` with the settings a router gives
 * the pool of its primary).
 *
 *   node --cpu-prof --cpu-prof-interval 100 --cpu-prof-dir=/tmp/prof --import tsx src/db-router/profile-shard.ts shard 8000
 */
import pg from 'pg'
import { timeConcurrent } from '../harness'
import { SHARDS, shardFixture } from './profile-fixture'

const [which = 'shard', ms = '8000'] = process.argv.slice(2)
const T = `bench_shard_prof_${process.pid}`

const { db, onA, admin } = await shardFixture(T)
try {
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
