import { requireServices, serviceUrls, startFaultProxy, uniqueName, waitFor } from '@scalekit/test-utils'
import type { FaultProxy } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DbRouterError } from '../../src/index'
import { createShardedRouter, DbShardsFailedError } from '../../src/shards/index'
import type { ShardedRouter } from '../../src/shards/index'
import { admin } from './helpers'

const T = uniqueName('shard_down')
const [A, B, C] = serviceUrls.pgShards as [string, string, string]
let proxy: FaultProxy
let db: ShardedRouter

/** A tenant of each shard. */
const tenants: Record<string, string> = {}

beforeAll(async () => {
  await requireServices('pgShards')
  // Shard c is reached through a proxy of this file's own: its wire is cut, the shared server is untouched.
  proxy = await startFaultProxy({ target: C })
  for (const url of [A, B, C]) await admin(url, `CREATE TABLE ${T} (tenant_id text, n int)`)
  db = createShardedRouter({
    shards: { a: { primary: A }, b: { primary: B }, c: { primary: proxy.url(C) } },
    map: { strategy: 'hash', buckets: 64 },
    shardColumn: 'tenant_id',
    router: { timeouts: { connect: '1s', query: '2s' }, health: { interval: '200ms', timeout: '500ms' } },
    crossShard: { timeout: '5s' },
    logger: { warn: () => undefined },
  })
  for (let i = 0; Object.keys(tenants).length < 3; i += 1) tenants[db.shardOf(`t${i}`)] ??= `t${i}`
  for (const tenant of Object.values(tenants))
    await db.query(`INSERT INTO ${T} (tenant_id, n) VALUES ($1, 1)`, [tenant])
})

afterAll(async () => {
  await db.close()
  await proxy.close()
  for (const url of [A, B, C]) await admin(url, `DROP TABLE IF EXISTS ${T}`)
})

describe('a shard down', () => {
  it('fails only its keys, with a coded error; cross-shard queries follow the policy', async () => {
    await proxy.refuse()
    proxy.reset()
    const select = `SELECT n FROM ${T} WHERE tenant_id = $1`
    const error: unknown = await db.query(select, [tenants.c]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DbRouterError)
    expect((error as DbRouterError).code).toMatch(/^ERR_DB_(PRIMARY_UNAVAILABLE|TIMEOUT)$/)
    expect((error as Error).cause).toBeDefined()
    for (const shard of ['a', 'b'])
      expect((await db.query(select, [tenants[shard]])).rows).toEqual([{ n: 1 }])

    const failed: unknown = await db.queryAllShards(`SELECT tenant_id FROM ${T}`).catch((e: unknown) => e)
    expect(failed).toBeInstanceOf(DbShardsFailedError)
    expect((failed as DbShardsFailedError).code).toBe('ERR_DB_SHARDS_FAILED')
    expect((failed as DbShardsFailedError).statusCode).toBe(503)
    expect((failed as DbShardsFailedError).failures.map((f) => f.shard)).toEqual(['c'])

    const partial = await db.queryAllShards<{ tenant_id: string }>(
      `SELECT tenant_id FROM ${T} ORDER BY tenant_id`,
      undefined,
      { onError: 'partial' },
    )
    expect(partial.complete).toBe(false)
    expect(partial.shards).toEqual(['a', 'b'])
    expect(partial.failed.map((f) => f.shard)).toEqual(['c'])
    expect(partial.rows.map((r) => r.tenant_id)).toEqual([tenants.a, tenants.b].sort())

    const health = await waitFor(
      () => {
        const h = db.health()
        return h.shards.c?.status === 'down' ? h : undefined
      },
      { timeout: 10_000 },
    )
    expect(health.status).toBe('degraded')
    expect(health.shards.a?.status).toBe('ok')
  })

  it('serves the shard again once it is back', async () => {
    await proxy.refuse(false)
    await proxy.heal()
    const rows = await waitFor(
      async () =>
        (await db.query(`SELECT n FROM ${T} WHERE tenant_id = $1`, [tenants.c]).catch(() => undefined))?.rows,
      { timeout: 20_000 },
    )
    expect(rows).toEqual([{ n: 1 }])
    const all = await db.queryAllShards(`SELECT count(*) AS n FROM ${T}`)
    expect(all.rows).toEqual([{ n: '3' }])
  })
})
