import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createShardedRouter, createShardIds, DbCrossShardError } from '../../src/shards/index'
import type { ShardedRouter } from '../../src/shards/index'
import { admin } from './helpers'

const USERS = uniqueName('users')
const EVENTS = uniqueName('events')
const [A, B, C] = serviceUrls.pgShards as [string, string, string]
let db: ShardedRouter

beforeAll(async () => {
  await requireServices('pgShards')
  for (const url of [A, B]) await admin(url, `CREATE TABLE ${USERS} (tenant_id text, id bigint PRIMARY KEY)`)
  await admin(C, `CREATE TABLE ${EVENTS} (id bigint, kind text)`)
  db = createShardedRouter({
    shards: { a: { primary: A }, b: { primary: B }, analytics: { primary: C } },
    map: { strategy: 'hash' },
    shardColumn: 'tenant_id',
    placement: { [EVENTS]: 'analytics' },
  })
})

afterAll(async () => {
  await db.close()
  for (const url of [A, B]) await admin(url, `DROP TABLE IF EXISTS ${USERS}`)
  await admin(C, `DROP TABLE IF EXISTS ${EVENTS}`)
})

describe('vertical partitioning and ids', () => {
  it('sends statements on placed tables to their database, and keeps it out of the shard map', async () => {
    expect(db.shardNames).toEqual(['a', 'b'])
    await db.query(`INSERT INTO ${EVENTS} (id, kind) VALUES (1, 'signup')`)
    expect(await admin(C, `SELECT kind FROM ${EVENTS}`)).toEqual([{ kind: 'signup' }])
    expect((await db.query(`SELECT count(*)::int AS n FROM ${EVENTS}`)).rows).toEqual([{ n: 1 }])
  })

  it('refuses a statement touching tables of two databases, naming them', async () => {
    const error: unknown = await db
      .query(`SELECT * FROM ${USERS} u JOIN ${EVENTS} e ON e.id = u.id WHERE u.tenant_id = $1`, ['x'])
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DbCrossShardError)
    expect((error as DbCrossShardError).code).toBe('ERR_DB_CROSS_SHARD')
    expect([...(error as DbCrossShardError).tables].sort()).toEqual([USERS, EVENTS].sort())
    expect((error as Error).message).toContain(`${EVENTS} (analytics)`)
  })

  it('routes a row by an id that carries its bucket', async () => {
    const ids = createShardIds({ worker: 0 })
    for (const tenant of ['t1', 't2', 't3', 't4', 't5', 't6']) {
      const id = ids.next(tenant)
      await db.query(`INSERT INTO ${USERS} (tenant_id, id) VALUES ($1, $2)`, [tenant, id])
      const shard = db.map.shardOfBucket(ids.bucketOf(id))
      expect(shard).toBe(db.shardOf(tenant))
      const { rows } = await db.router(shard).query(`SELECT tenant_id FROM ${USERS} WHERE id = $1`, [id])
      expect(rows).toEqual([{ tenant_id: tenant }])
    }
  })
})
