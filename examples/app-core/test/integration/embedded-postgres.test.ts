import { createDbRouter } from '@scalekit/db-router'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EMBEDDED_POOL_SIZE, startEmbeddedPostgres } from '../../src/embedded-postgres'
import type { EmbeddedPostgres } from '../../src/embedded-postgres'

describe('the embedded Postgres (PGlite over pglite-socket) under the app’s pool size', () => {
  let embedded: EmbeddedPostgres
  beforeAll(async () => {
    embedded = await startEmbeddedPostgres()
  }, 60_000)
  afterAll(async () => {
    await embedded.close()
  })

  it('answers every statement its own rows while transactions run at the same time', async () => {
    const db = createDbRouter({ primary: { connectionString: embedded.url, max: EMBEDDED_POOL_SIZE } })
    try {
      await db.query('CREATE TABLE t (x int)')
      const failures: string[] = []
      await Promise.all(
        Array.from({ length: 200 }, async (_, i) => {
          try {
            if (i % 2 === 0) {
              await db.transaction(async (tx) => {
                await tx.query('INSERT INTO t VALUES ($1)', [i])
                await tx.query('SELECT count(*) FROM t WHERE x > $1', [i])
              })
            } else {
              const { rows } = await db.query<{ v: number }>(`SELECT $1::int + ${i * 1000} AS v`, [i])
              if (rows[0]?.v !== i + i * 1000) failures.push(`${i}: ${JSON.stringify(rows)}`)
            }
          } catch (error) {
            failures.push(`${i}: ${String(error)}`)
          }
        }),
      )
      expect(failures).toEqual([])
      expect((await db.query<{ n: string }>('SELECT count(*) AS n FROM t')).rows[0]?.n).toBe('100')
    } finally {
      await db.close()
    }
  }, 60_000)
})
