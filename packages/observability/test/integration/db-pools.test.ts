import { createDbRouter } from '@scalekit/db-router'
import { serviceUrls, waitFor } from '@scalekit/test-utils'
import { describe, expect, it } from 'vitest'
import { createMetrics, instrumentScalekit } from '../../src/index'
import { sampleValue } from '../http-client'

describe('pool gauges of a real @scalekit/db-router on PostgreSQL', () => {
  it('show a saturated pool at scrape time: all connections used and a checkout waiting', async () => {
    const metrics = createMetrics({ defaultMetrics: false })
    const db = createDbRouter({ primary: { connectionString: serviceUrls.pg, max: 1 } })
    const instrumentation = instrumentScalekit({ metrics, packages: [], dbRouters: [db] })
    const pool = { db_client_connection_pool_name: 'primary' }
    try {
      expect(sampleValue(await metrics.metrics(), 'db_client_connection_max', pool)).toBe(1)
      const session = await db.connect()
      let queued: Promise<unknown> | undefined
      try {
        queued = db.query('SELECT 1 AS one')
        const text = await waitFor(
          async () => {
            const now = await metrics.metrics()
            return (sampleValue(now, 'db_client_connection_pending_requests', pool) ?? 0) >= 1
              ? now
              : undefined
          },
          { timeout: 10_000, message: 'a checkout waiting in the scrape' },
        )
        expect(
          sampleValue(text, 'db_client_connection_count', { ...pool, db_client_connection_state: 'used' }),
        ).toBe(1)
        expect(
          sampleValue(text, 'db_client_connection_count', { ...pool, db_client_connection_state: 'idle' }),
        ).toBe(0)
      } finally {
        session.release()
      }
      await queued
      const after = await metrics.metrics()
      expect(sampleValue(after, 'db_client_connection_pending_requests', pool)).toBe(0)
      expect(
        sampleValue(after, 'db_client_connection_count', { ...pool, db_client_connection_state: 'idle' }),
      ).toBe(1)
    } finally {
      instrumentation.close()
      await db.close()
    }
  })
})
