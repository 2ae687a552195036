/**
 * What the shard profiling aids (`profile-shard.ts`, `profile-pair.ts`) share: the three shards, a
 * router over them, and a point-read table on shard `a` holding 20 rows for each of its tenants.
 */
import { createShardedRouter } from '@scalekit/db-router/shards'
import pg from 'pg'

export const SHARDS = (
  process.env.SCALEKIT_PG_SHARD_URLS ??
  'postgres://postgres@127.0.0.1:5441/test,postgres://postgres@127.0.0.1:5442/test,postgres://postgres@127.0.0.1:5443/test'
).split(',')

const TENANTS = 1000

/** The router, the tenants that live on shard `a`, and an admin pool there that made `table`. */
export async function shardFixture(table: string) {
  const db = createShardedRouter({
    shards: Object.fromEntries(['a', 'b', 'c'].map((n, i) => [n, { primary: SHARDS[i] as string }])),
    map: { strategy: 'hash' },
  })
  const onA = Array.from({ length: TENANTS }, (_, i) => `t${i}`).filter((t) => db.shardOf(t) === 'a')
  const admin = new pg.Pool({ connectionString: SHARDS[0], max: 1 })
  await admin.query(
    `CREATE TABLE ${table} (tenant_id text NOT NULL, id int NOT NULL, score int NOT NULL, PRIMARY KEY (tenant_id, id))`,
  )
  await admin.query(
    `INSERT INTO ${table} SELECT t, n, n * 7 FROM unnest($1::text[]) t, generate_series(1, 20) n`,
    [onA],
  )
  await admin.query(`ANALYZE ${table}`)
  return { db, onA, admin }
}
