import { requireServices, serviceUrls } from '@scalekit/test-utils'
import pg from 'pg'
import type { PoolConfig } from 'pg'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { createDbRouter } from '../../src/index'

describe('health() reports each node pool (issue 15, pool saturation)', () => {
  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica')
  })

  it('a saturated pool of one connection shows the checkout waiting, and the pool idle once released', async () => {
    const db = createDbRouter({
      primary: { connectionString: serviceUrls.pgPrimary, max: 1 },
      replicas: [{ connectionString: serviceUrls.pgReplica, max: 3 }],
    })
    try {
      expect(db.health().primary.pool).toEqual({ total: 0, idle: 0, waiting: 0, max: 1 })
      expect(db.replicas[0]?.health().pool).toEqual({ total: 0, idle: 0, waiting: 0, max: 3 })

      // The only primary connection, held: the next statement on the primary must queue for it.
      const session = await db.connect()
      let queued: Promise<unknown> | undefined
      try {
        queued = db.primary.query('SELECT 1 AS one')
        await vi.waitFor(() => {
          expect(db.health().primary.pool.waiting).toBeGreaterThanOrEqual(1)
        })
        const pool = db.health().primary.pool
        expect(pool.total).toBe(1)
        expect(pool.idle).toBe(0)
        expect(pool.max).toBe(1)
      } finally {
        session.release()
      }
      await queued
      await vi.waitFor(() => {
        expect(db.health().primary.pool).toMatchObject({ waiting: 0, total: 1, idle: 1 })
      })
      // The node handle reports the same pool.
      expect(db.primary.health().pool).toEqual(db.health().primary.pool)
    } finally {
      await db.close()
    }
  })

  it.each([
    [
      'a pool the router creates',
      (): PoolConfig | pg.Pool => ({ connectionString: serviceUrls.pgPrimary, max: 1 }),
    ],
    // Without connectionTimeoutMillis, pg-pool itself would let connect() wait for ever.
    [
      'an app pool without connectionTimeoutMillis',
      (): PoolConfig | pg.Pool => new pg.Pool({ connectionString: serviceUrls.pgPrimary, max: 1 }),
    ],
  ])(
    'a checkout on a saturated primary (%s) gives up after timeouts.connect, and the late session goes back',
    async (_, primary) => {
      const source = primary()
      const db = createDbRouter({ primary: source, timeouts: { connect: 200 } })
      try {
        const session = await db.connect()
        try {
          const refused = await db.connect().then(
            () => undefined,
            (error: unknown) => error,
          )
          expect(refused).toMatchObject({
            code: 'ERR_DB_PRIMARY_UNAVAILABLE',
            cause: expect.objectContaining({ code: 'ERR_DB_TIMEOUT' }) as unknown,
          })
        } finally {
          session.release()
        }
        await vi.waitFor(() => {
          expect(db.health().primary.pool).toMatchObject({ waiting: 0, total: 1, idle: 1 })
        })
        expect((await db.primary.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
      } finally {
        await db.close()
        if (source instanceof pg.Pool) await source.end()
      }
    },
  )
})
