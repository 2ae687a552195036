import pg from 'pg'
import { requireServices, serviceUrls } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Classifier } from '../../src/classify/classifier'
import type { FunctionRow } from '../../src/classify/classifier'
import { isBuiltinWriteFunction, isReadOnlyVolatile } from '../../src/classify/functions'
import { createDbRouter } from '../../src/index'
import { admin, recordQueries } from './helpers'

// Issue 12, defect 12: a VOLATILE built-in is a write unless reviewed as a read. This census keeps
// the two lists complete for the server under test: a volatile built-in on neither list fails here.
describe('volatile built-ins of the server under test', () => {
  let pool: pg.Pool
  let volatile: string[] = []

  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica')
    pool = new pg.Pool({ connectionString: serviceUrls.pgPrimary, max: 2 })
    const { rows } = await pool.query<{ name: string }>(
      `SELECT DISTINCT p.proname AS name FROM pg_catalog.pg_proc p
         JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
        WHERE p.provolatile = 'v' AND n.nspname IN ('pg_catalog', 'information_schema')
        ORDER BY 1`,
    )
    volatile = rows.map((r) => r.name)
  })

  afterAll(async () => {
    await pool.end()
  })

  it('every one is on exactly one list: reviewed read, or primary', () => {
    expect(volatile.length).toBeGreaterThan(100)
    const unreviewed = volatile.filter(
      (n) => !isReadOnlyVolatile(n.toLowerCase()) && !isBuiltinWriteFunction(n.toLowerCase()),
    )
    const both = volatile.filter(
      (n) => isReadOnlyVolatile(n.toLowerCase()) && isBuiltinWriteFunction(n.toLowerCase()),
    )
    expect(unreviewed).toEqual([])
    expect(both).toEqual([])
  })

  it('the classifier, looking functions up in this pg_proc, sends each where its list says', async () => {
    const classifier = new Classifier({
      readFunctions: [],
      writeFunctions: [],
      cacheSize: 10_000,
      lookup: async (names) =>
        (
          await pool.query<FunctionRow>(
            `SELECT p.proname AS name, n.nspname AS schema, p.provolatile::text AS volatility
               FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
              WHERE p.proname = ANY($1::text[])`,
            [names],
          )
        ).rows,
    })
    const wrong: string[] = []
    for (const name of volatile) {
      const expected = isReadOnlyVolatile(name.toLowerCase()) ? 'replica' : 'primary'
      for (const sql of [`SELECT pg_catalog."${name}"()`, `SELECT "${name}"(1, 'x')`]) {
        const decision = await classifier.classify(sql)
        if (decision.target !== expected) wrong.push(`${sql} → ${decision.target} (${decision.reason})`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('query_to_xml running pg_advisory_lock runs on the primary, never takes the lock on a replica', async () => {
    const key = 424_000 + Math.floor(Math.random() * 1000)
    const db = createDbRouter({ primary: serviceUrls.pgPrimary, replicas: [serviceUrls.pgReplica] })
    const rec = recordQueries()
    try {
      await db.query(`SELECT query_to_xml('select pg_advisory_lock(${key})', true, false, '')`)
      await db.query("SELECT lo_export(0, '/nonexistent/x')").catch(() => undefined)
    } finally {
      rec.stop()
    }
    const onReplica = await admin<{ n: number }>(
      serviceUrls.pgReplica,
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1",
      [key],
    )
    const onPrimary = await admin<{ n: number }>(
      serviceUrls.pgPrimary,
      "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1",
      [key],
    )
    await db.close()
    expect(rec.seen.map((c) => `${c.role}:${c.classification}`)).toEqual([
      'primary:function:query_to_xml',
      'primary:function:lo_export',
    ])
    expect(onReplica[0]?.n).toBe(0)
    expect(onPrimary[0]?.n).toBe(1)
  })
})
