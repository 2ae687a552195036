import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDbRouter } from '../../src/index'
import type { DbRouter, QueryOptions } from '../../src/index'
import { admin, recordQueries, waitForReplay } from './helpers'

const S = uniqueName('route')
const tmp = uniqueName('tmp')

type Where = 'primary' | 'replica'
interface Row {
  readonly sql: string
  readonly where: Where
  readonly values?: unknown[]
  readonly options?: QueryOptions
  /** The statement fails on purpose (after being routed). */
  readonly fails?: boolean
}

/** Each statement, and where it must run. Reads that can carry `pg_is_in_recovery() AS rec` do, so the row itself proves the node. */
const table: readonly Row[] = [
  // reads → replica
  { sql: 'SELECT pg_is_in_recovery() AS rec', where: 'replica' },
  { sql: `SELECT pg_is_in_recovery() AS rec, count(*) FROM ${S}.t`, where: 'replica' },
  { sql: `SELECT pg_is_in_recovery() AS rec, * FROM ${S}.t WHERE id = $1`, values: [1], where: 'replica' },
  {
    sql: `SELECT pg_is_in_recovery() AS rec FROM ${S}.t a JOIN ${S}.t b USING (id) LIMIT 1`,
    where: 'replica',
  },
  {
    sql: `WITH x AS (SELECT id FROM ${S}.t) SELECT pg_is_in_recovery() AS rec, count(*) FROM x`,
    where: 'replica',
  },
  {
    sql: `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3) SELECT pg_is_in_recovery() AS rec, sum(i) FROM n`,
    where: 'replica',
  },
  { sql: 'VALUES (1, 2)', where: 'replica' },
  { sql: `TABLE ${S}.t`, where: 'replica' },
  { sql: "SELECT pg_is_in_recovery() AS rec, now(), lower('X'), random(), md5('a')", where: 'replica' },
  { sql: 'SELECT pg_is_in_recovery() AS rec UNION ALL SELECT pg_is_in_recovery()', where: 'replica' },
  { sql: `EXPLAIN SELECT * FROM ${S}.t`, where: 'replica' },
  { sql: `SELECT pg_is_in_recovery() AS rec, ${S}.reader()`, where: 'replica' },
  { sql: `SELECT pg_is_in_recovery() AS rec, (SELECT max(id) FROM ${S}.t) AS m`, where: 'replica' },
  { sql: '/* leading comment */ select pg_is_in_recovery() as rec -- trailing comment', where: 'replica' },
  { sql: "SELECT pg_is_in_recovery() AS rec, json_build_object('a', 1)", where: 'replica' },
  {
    sql: `SELECT pg_is_in_recovery() AS rec, EXISTS (SELECT 1 FROM ${S}.t WHERE v = 'a') AS e`,
    where: 'replica',
  },
  {
    sql: `SELECT pg_is_in_recovery() AS rec, count(*) FROM ${S}.t TABLESAMPLE SYSTEM (100)`,
    where: 'replica',
  },
  { sql: `SELECT pg_is_in_recovery() AS rec, ${S}.volatile_reader()`, where: 'replica' },
  {
    sql: `SELECT pg_is_in_recovery() AS rec, * FROM ${S}.t WHERE id = $1`,
    values: [2],
    options: { role: 'replica' },
    where: 'replica',
  },
  { sql: `SELECT pg_is_in_recovery() AS rec, v FROM ${S}.t ORDER BY id OFFSET 1 LIMIT 1`, where: 'replica' },
  // writes and everything not provably a read → primary
  { sql: `INSERT INTO ${S}.t (v) VALUES ('x')`, where: 'primary' },
  { sql: `INSERT INTO ${S}.t (v) VALUES ($1) RETURNING id`, values: ['y'], where: 'primary' },
  { sql: `UPDATE ${S}.t SET v = v WHERE id = 1`, where: 'primary' },
  { sql: `DELETE FROM ${S}.t WHERE id = -1`, where: 'primary' },
  {
    sql: `MERGE INTO ${S}.t AS d USING (VALUES (1)) AS s(id) ON d.id = s.id WHEN MATCHED THEN UPDATE SET v = d.v`,
    where: 'primary',
  },
  { sql: `SELECT pg_is_in_recovery() AS rec FROM ${S}.t WHERE id = 1 FOR UPDATE`, where: 'primary' },
  { sql: `SELECT pg_is_in_recovery() AS rec FROM ${S}.t WHERE id = 1 FOR SHARE`, where: 'primary' },
  {
    sql: `SELECT pg_is_in_recovery() AS rec FROM ${S}.t WHERE id = 1 FOR NO KEY UPDATE SKIP LOCKED`,
    where: 'primary',
  },
  {
    sql: `SELECT pg_is_in_recovery() AS rec FROM ${S}.t WHERE id = 1 FOR KEY SHARE NOWAIT`,
    where: 'primary',
  },
  {
    sql: `SELECT pg_is_in_recovery() AS rec FROM (SELECT id FROM ${S}.t FOR UPDATE) sub LIMIT 1`,
    where: 'primary',
  },
  {
    sql: `WITH ins AS (INSERT INTO ${S}.t (v) VALUES ('cte') RETURNING id) SELECT pg_is_in_recovery() AS rec, id FROM ins`,
    where: 'primary',
  },
  {
    sql: `WITH d AS (DELETE FROM ${S}.t WHERE id = -5 RETURNING id) SELECT pg_is_in_recovery() AS rec FROM d`,
    where: 'primary',
  },
  { sql: `SELECT 1 AS a INTO TEMP ${tmp}_into`, where: 'primary' },
  { sql: `CREATE TEMP TABLE ${tmp}_t (a int)`, where: 'primary' },
  { sql: `SELECT nextval('${S}.seq')`, where: 'primary' },
  { sql: `SELECT setval('${S}.seq', 10)`, where: 'primary' },
  { sql: 'SELECT pg_try_advisory_xact_lock(4242)', where: 'primary' },
  { sql: 'SELECT pg_advisory_xact_lock(4243)', where: 'primary' },
  { sql: 'SELECT pg_is_in_recovery() AS rec, txid_current()', where: 'primary' },
  { sql: 'SELECT pg_is_in_recovery() AS rec, pg_current_xact_id()', where: 'primary' },
  { sql: `SELECT pg_is_in_recovery() AS rec, ${S}.writer()`, where: 'primary' },
  { sql: `SELECT pg_is_in_recovery() AS rec, ${S}.denied()`, where: 'primary' },
  { sql: 'SELECT pg_is_in_recovery() AS rec; SELECT 1', where: 'primary' },
  { sql: `LISTEN ${S}`, where: 'primary' },
  { sql: `NOTIFY ${S}`, where: 'primary' },
  { sql: `UNLISTEN ${S}`, where: 'primary' },
  { sql: `SELECT pg_is_in_recovery() AS rec, pg_notify('${S}', 'x')`, where: 'primary' },
  {
    sql: "SELECT pg_is_in_recovery() AS rec, set_config('application_name', 'db-router-test', false)",
    where: 'primary',
  },
  { sql: 'SET search_path TO public', where: 'primary' },
  { sql: `CREATE TABLE ${S}.t2 (a int)`, where: 'primary' },
  { sql: `ALTER TABLE ${S}.t2 ADD COLUMN b int`, where: 'primary' },
  { sql: `TRUNCATE ${S}.t2`, where: 'primary' },
  { sql: `VACUUM ${S}.t2`, where: 'primary' },
  { sql: `ANALYZE ${S}.t2`, where: 'primary' },
  { sql: 'DO $$ BEGIN PERFORM 1; END $$', where: 'primary' },
  { sql: `EXPLAIN ANALYZE INSERT INTO ${S}.t (v) VALUES ('explained')`, where: 'primary' },
  { sql: 'SELEC 1', where: 'primary', fails: true },
  { sql: 'SELECT pg_is_in_recovery() AS rec', options: { role: 'primary' }, where: 'primary' },
]

describe('routing table: where each statement runs', () => {
  let db: DbRouter

  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica')
    await admin(serviceUrls.pgPrimary, `CREATE SCHEMA ${S}`)
    await admin(
      serviceUrls.pgPrimary,
      `CREATE TABLE ${S}.t (id serial PRIMARY KEY, v text); INSERT INTO ${S}.t (v) VALUES ('a'), ('b'), ('c');
      CREATE SEQUENCE ${S}.seq;
      CREATE FUNCTION ${S}.reader() RETURNS bigint STABLE LANGUAGE sql AS 'SELECT count(*) FROM ${S}.t';
      CREATE FUNCTION ${S}.volatile_reader() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM ${S}.t';
      CREATE FUNCTION ${S}.denied() RETURNS int STABLE LANGUAGE sql AS 'SELECT 1';
      CREATE FUNCTION ${S}.writer() RETURNS int LANGUAGE sql AS 'INSERT INTO ${S}.t (v) VALUES (''w'') RETURNING id'`,
    )
    await waitForReplay(serviceUrls.pgPrimary, serviceUrls.pgReplica)
    db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [serviceUrls.pgReplica],
      classification: { readFunctions: [`${S}.volatile_reader`], writeFunctions: [`${S}.denied`] },
    })
  })

  afterAll(async () => {
    await db.close()
    await admin(serviceUrls.pgPrimary, `DROP SCHEMA IF EXISTS ${S} CASCADE`)
  })

  it(`has at least 40 statements (${table.length})`, () => {
    expect(table.length).toBeGreaterThanOrEqual(40)
    expect(table.filter((r) => r.where === 'replica').length).toBeGreaterThanOrEqual(15)
  })

  it.each(table.map((row) => [row.sql, row] as const))('%s', async (_sql, row) => {
    const rec = recordQueries()
    let rows: Record<string, unknown>[] = []
    try {
      if (row.fails === true)
        await expect(db.query(row.sql, row.values, row.options)).rejects.toMatchObject({ code: '42601' })
      else {
        const result = await db.query(row.sql, row.values, row.options)
        // A multi-statement text returns one result per statement.
        rows = Array.isArray(result) ? [] : result.rows
      }
    } finally {
      rec.stop()
    }
    const attempts = rec.seen
    expect(attempts.length).toBeGreaterThanOrEqual(1)
    const last = attempts.at(-1)
    expect(last?.role).toBe(row.where)
    expect(last?.node).toBe(row.where === 'primary' ? 'primary' : 'replica-0')
    // Nothing misrouted first and retried: every attempt went where the statement belongs.
    expect(attempts.every((a) => a.role === row.where)).toBe(true)
    const first = rows[0]
    if (first !== undefined && 'rec' in first) expect(first.rec).toBe(row.where === 'replica')
  })

  it('caches decisions: a repeated statement is not reclassified and routes the same', async () => {
    const sql = `SELECT pg_is_in_recovery() AS rec, count(*) FROM ${S}.t`
    for (let i = 0; i < 20; i++) {
      const { rows } = await db.query<{ rec: boolean }>(sql)
      expect(rows[0]?.rec).toBe(true)
    }
  })
})
