import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  createShardedRouter,
  DbCrossShardError,
  DbMergeUnsupportedError,
  DbShardKeyRequiredError,
} from '../../src/shards/index'
import type { ShardedRouter } from '../../src/shards/index'
import { admin, waitForReplay } from './helpers'

const T = uniqueName('shard_orders')
const [A, B, C] = serviceUrls.pgShards as [string, string, string]
/** Shard `d` is the replicated cluster: a primary and its streaming replica, so reads there go to the replica. */
const D = serviceUrls.pgPrimary
const URLS: Readonly<Record<string, string>> = { a: A, b: B, c: C, d: D }
/** The same rows in one database: what every cross-shard answer must equal. */
const ONE = serviceUrls.pg

const DDL = `CREATE TABLE ${T} (tenant_id text NOT NULL, id bigint NOT NULL, region text NOT NULL,
  total numeric(12,2), qty int NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (tenant_id, id))`
const REGIONS = ['eu', 'us', 'apac', 'latam']

interface Order {
  tenant_id: string
  id: string
  region: string
  total: string | null
  qty: number
  at: Date
}

function orders(): unknown[][] {
  const rows: unknown[][] = []
  for (let i = 0; i < 1200; i += 1) {
    const tenant = `tenant-${i % 97}`
    const total = i % 13 === 0 ? null : ((i * 7919) % 100_000) / 100
    const at = new Date(Date.UTC(2025, 0, 1) + ((i * 104_729) % 10_000_000) * 1000)
    rows.push([tenant, i, REGIONS[i % 4], total, (i * 31) % 50, at])
  }
  return rows
}

let db: ShardedRouter

/** Two tenants on different shards. */
function twoShards(): [string, string] {
  const x = 'tenant-1'
  for (let i = 2; i < 97; i += 1) if (db.shardOf(`tenant-${i}`) !== db.shardOf(x)) return [x, `tenant-${i}`]
  throw new Error('every tenant on one shard')
}

beforeAll(async () => {
  await requireServices('pg', 'pgShards', 'pgPrimary', 'pgReplica')
  for (const url of [...Object.values(URLS), ONE]) await admin(url, DDL)
  db = createShardedRouter({
    shards: {
      a: { primary: A },
      b: { primary: B },
      c: { primary: C },
      d: { primary: D, replicas: [serviceUrls.pgReplica] },
    },
    map: { strategy: 'hash' },
    shardColumn: 'tenant_id',
  })
  await db.ready()
  const insert = `INSERT INTO ${T} (tenant_id, id, region, total, qty, at) VALUES ($1, $2, $3, $4, $5, $6)`
  for (const row of orders()) {
    await db.query(insert, row)
    await admin(ONE, insert, row)
  }
  await waitForReplay(D, serviceUrls.pgReplica)
})

afterAll(async () => {
  await db.close()
  for (const url of [...Object.values(URLS), ONE]) await admin(url, `DROP TABLE IF EXISTS ${T}`)
})

describe('routing by key', () => {
  it('puts every row on the shard its key hashes to, and only there', async () => {
    const counts: Record<string, number> = {}
    for (const [shard, url] of Object.entries(URLS)) {
      const rows = await admin<{ tenant_id: string }>(url, `SELECT DISTINCT tenant_id FROM ${T}`)
      counts[shard] = rows.length
      for (const { tenant_id } of rows) expect(db.shardOf(tenant_id)).toBe(shard)
    }
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(97)
    expect(Object.values(counts).every((n) => n > 0)).toBe(true)
  })

  it('reads a tenant from its shard, by the key in the statement, by shardKey and by shard(key)', async () => {
    for (const tenant of ['tenant-1', 'tenant-42', 'tenant-96']) {
      const sql = `SELECT id FROM ${T} WHERE tenant_id = $1 ORDER BY id`
      const expected = await admin(ONE, sql, [tenant])
      expect((await db.query(sql, [tenant])).rows).toEqual(expected)
      expect(
        (await db.query(`SELECT id FROM ${T} WHERE id >= 0 ORDER BY id`, [], { shardKey: tenant })).rows
          .length,
      ).toBeGreaterThanOrEqual(expected.length)
      expect((await db.shard(tenant).query(sql, [tenant])).rows).toEqual(expected)
    }
  })

  it('reads on shard d go to its replica, and read-your-writes holds there', async () => {
    const tenant = Array.from({ length: 97 }, (_, i) => `tenant-${i}`).find((t) => db.shardOf(t) === 'd')
    expect(tenant).toBeDefined()
    const shard = db.shard(tenant as string)
    const onReplica = await shard.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
    expect(onReplica.rows[0]?.rec).toBe(true)
    await shard.withConsistency(async () => {
      await db.query(
        `INSERT INTO ${T} (tenant_id, id, region, qty, at) VALUES ($1, 100000, 'eu', 1, now())`,
        [tenant],
      )
      const seen = await db.query(`SELECT id FROM ${T} WHERE tenant_id = $1 AND id = 100000`, [tenant])
      expect(seen.rowCount).toBe(1)
    })
    await db.query(`DELETE FROM ${T} WHERE tenant_id = $1 AND id = 100000`, [tenant])
  })

  it('refuses what it cannot route to one shard, before sending anything', async () => {
    await expect(db.query(`SELECT * FROM ${T}`)).rejects.toMatchObject({
      code: 'ERR_DB_SHARD_KEY_REQUIRED',
      reason: 'no-key',
    })
    await expect(
      db.query(`SELECT * FROM ${T} WHERE tenant_id = $1 OR id = 1`, ['tenant-1']),
    ).rejects.toBeInstanceOf(DbShardKeyRequiredError)
    const [x, y] = twoShards()
    await expect(db.query(`SELECT * FROM ${T} WHERE tenant_id IN ($1, $2)`, [x, y])).rejects.toBeInstanceOf(
      DbCrossShardError,
    )
    const same = await db.query(`SELECT count(*) FROM ${T} WHERE tenant_id IN ($1, $1)`, [x])
    expect(same.rowCount).toBe(1)
  })

  it('runs a transaction on one shard and refuses a statement of another shard in it', async () => {
    const [x, y] = twoShards()
    const before = await admin(URLS[db.shardOf(x)] as string, `SELECT count(*)::int AS n FROM ${T}`)
    await expect(
      db.transaction(x, async (tx) => {
        await tx.query(
          `INSERT INTO ${T} (tenant_id, id, region, qty, at) VALUES ($1, 200000, 'eu', 1, now())`,
          [x],
        )
        await tx.query(
          `INSERT INTO ${T} (tenant_id, id, region, qty, at) VALUES ($1, 200000, 'eu', 1, now())`,
          [y],
        )
      }),
    ).rejects.toBeInstanceOf(DbCrossShardError)
    // Rolled back: the first insert is gone too.
    expect(await admin(URLS[db.shardOf(x)] as string, `SELECT count(*)::int AS n FROM ${T}`)).toEqual(before)
  })
})

describe('queryAllShards equals one database holding every row', () => {
  const statements: readonly [string, unknown[]][] = [
    [`SELECT tenant_id, id, total FROM ${T} ORDER BY total DESC NULLS LAST, id LIMIT 100`, []],
    [`SELECT id, at FROM ${T} ORDER BY at, id LIMIT $1`, [37]],
    [`SELECT id, total FROM ${T} ORDER BY total NULLS FIRST, id DESC LIMIT 50`, []],
    [`SELECT count(*) AS n, sum(total) AS sum, sum(qty) AS qty, min(at), max(total) FROM ${T}`, []],
    [`SELECT region, count(*) AS n, sum(total), max(qty) FROM ${T} GROUP BY region ORDER BY region`, []],
    [
      `SELECT region, min(total) AS low FROM ${T} WHERE qty > $1 GROUP BY region ORDER BY low DESC, region`,
      [10],
    ],
    [`SELECT count(*) FROM ${T} WHERE qty = 1000`, []],
  ]

  it.each(statements)('%s', async (sql, values) => {
    const merged = await db.queryAllShards(sql, values)
    expect(merged.complete).toBe(true)
    expect(merged.shards).toEqual(['a', 'b', 'c', 'd'])
    expect(merged.rows).toEqual(await admin(ONE, sql, values))
  })

  it('concatenates with merge: concat, and merges with a comparator of the caller', async () => {
    const all = await db.queryAllShards<Order>(`SELECT * FROM ${T}`, [], { merge: 'concat' })
    expect(all.rowCount).toBe(1200)
    const byId = await db.queryAllShards<{ id: string }>(
      `SELECT id FROM ${T} ORDER BY id DESC LIMIT 20`,
      [],
      {
        merge: { orderBy: (p, q) => Number(q.id) - Number(p.id), limit: 20 },
      },
    )
    expect(byId.rows).toEqual(await admin(ONE, `SELECT id FROM ${T} ORDER BY id DESC LIMIT 20`))
  })

  it('refuses what it cannot merge exactly, before sending anything', async () => {
    await expect(db.queryAllShards(`SELECT avg(total) FROM ${T}`)).rejects.toBeInstanceOf(
      DbMergeUnsupportedError,
    )
    await expect(db.queryAllShards(`SELECT id FROM ${T} ORDER BY id LIMIT 5 OFFSET 5`)).rejects.toMatchObject(
      {
        code: 'ERR_DB_MERGE_UNSUPPORTED',
      },
    )
  })

  it('reports every shard in health()', async () => {
    const health = await db.checkHealth()
    expect(Object.keys(health.shards)).toEqual(['a', 'b', 'c', 'd'])
    expect(health.shards.d?.replicas).toHaveLength(1)
    expect(['ok', 'degraded']).toContain(health.status)
  })
})
