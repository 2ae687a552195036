import { describe, expect, it } from 'vitest'
import { createMetrics, type DbPoolHealth, type DbPoolSource, instrumentScalekit } from '../../src/index'
import { sampleValue } from '../http-client'

/** A router as @scalekit/db-router's `health()` describes one (node names, per-node pools). */
function router(pools: Record<string, DbPoolHealth | undefined>): DbPoolSource & { closed: boolean } {
  const [primary = 'primary', ...replicas] = Object.keys(pools)
  const node = (name: string): { name: string; pool: DbPoolHealth | undefined } => ({
    name,
    pool: pools[name],
  })
  return {
    closed: false,
    health() {
      if (this.closed) throw new Error('closed')
      return { primary: node(primary), replicas: replicas.map(node) }
    },
  }
}

describe('instrumentScalekit({ dbRouters }): node pools at scrape time', () => {
  it('reports used, idle, max and waiting checkouts per node under the OpenTelemetry names', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    const pools: Record<string, DbPoolHealth> = {
      primary: { total: 10, idle: 0, waiting: 3, max: 10 },
      'replica-0': { total: 4, idle: 3, waiting: 0, max: 10 },
    }
    const db = router(pools)
    const instrumentation = instrumentScalekit({ metrics, packages: [], dbRouters: [db] })
    let text = await metrics.metrics()
    const pool = (name: string): { db_client_connection_pool_name: string } => ({
      db_client_connection_pool_name: name,
    })
    expect(
      sampleValue(text, 'db_client_connection_count', {
        ...pool('primary'),
        db_client_connection_state: 'used',
      }),
    ).toBe(10)
    expect(
      sampleValue(text, 'db_client_connection_count', {
        ...pool('replica-0'),
        db_client_connection_state: 'idle',
      }),
    ).toBe(3)
    expect(sampleValue(text, 'db_client_connection_max', pool('replica-0'))).toBe(10)
    expect(sampleValue(text, 'db_client_connection_pending_requests', pool('primary'))).toBe(3)

    // Read at each scrape: the values follow the pool.
    pools.primary = { total: 10, idle: 6, waiting: 0, max: 10 }
    text = await metrics.metrics()
    expect(
      sampleValue(text, 'db_client_connection_count', {
        ...pool('primary'),
        db_client_connection_state: 'used',
      }),
    ).toBe(4)
    expect(sampleValue(text, 'db_client_connection_pending_requests', pool('primary'))).toBe(0)

    // A closed router is skipped, the scrape still answers; close() removes the sources.
    db.closed = true
    text = await metrics.metrics()
    expect(text).not.toContain('db_client_connection_max{')
    db.closed = false
    instrumentation.close()
    expect(await metrics.metrics()).not.toContain('db_client_connection_max{')
  })

  it('skips nodes whose health has no pool (a db-router before pool stats) and bad numbers', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    instrumentScalekit({
      metrics,
      packages: [],
      dbRouters: [
        router({
          primary: undefined,
          'replica-0': { total: Number.NaN, idle: 0, waiting: 0, max: 10 },
          'replica-1': { total: 1, idle: 1, waiting: 0, max: 5 },
        }),
      ],
    })
    const text = await metrics.metrics()
    expect(text).not.toContain('pool_name="primary"')
    expect(text).not.toContain('pool_name="replica-0"')
    expect(
      sampleValue(text, 'db_client_connection_max', { db_client_connection_pool_name: 'replica-1' }),
    ).toBe(5)
  })

  it('labels the pools of a sharded router <shard>/<node>', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    const pool = { total: 2, idle: 1, waiting: 0, max: 4 }
    const sharded = {
      health: () => ({
        shards: {
          'shard-a': { primary: { name: 'primary', pool }, replicas: [] },
          'shard-b': { primary: { name: 'primary', pool }, replicas: [{ name: 'replica-0', pool }] },
        },
      }),
    }
    instrumentScalekit({ metrics, packages: [], dbRouters: [sharded] })
    const text = await metrics.metrics()
    const names = [...text.matchAll(/^db_client_connection_max\{db_client_connection_pool_name="([^"]+)"/gm)]
    expect(names.map((m) => m[1]).sort()).toEqual(['shard-a/primary', 'shard-b/primary', 'shard-b/replica-0'])
  })

  it('refuses dbRouters that are not routers with a coded error', () => {
    const metrics = createMetrics({ defaultMetrics: false })
    for (const dbRouters of [{}, [{}], [null], 'db'])
      expect(() => instrumentScalekit({ metrics, dbRouters: dbRouters as never })).toThrow(
        expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_OPTIONS' }),
      )
  })
})
