import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import { createDbRouter } from '../../src/index'
import type { DbRouter } from '../../src/index'
import { admin, recordQueries } from './helpers'

const S = uniqueName('tx')

describe('transactions and sessions run on the primary', () => {
  let db: DbRouter

  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica')
    await admin(
      serviceUrls.pgPrimary,
      `CREATE SCHEMA ${S}; CREATE TABLE ${S}.t (id serial PRIMARY KEY, v text UNIQUE)`,
    )
    db = createDbRouter({ primary: serviceUrls.pgPrimary, replicas: [serviceUrls.pgReplica] })
  })

  afterAll(async () => {
    await db.close()
    await admin(serviceUrls.pgPrimary, `DROP SCHEMA IF EXISTS ${S} CASCADE`)
  })

  it('commits on resolve; reads inside run on the primary and see the uncommitted rows', async () => {
    const rec = recordQueries()
    const result = await db.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${S}.t (v) VALUES ($1)`, ['committed'])
      const { rows } = await tx.query<{ n: number; rec: boolean }>(
        `SELECT count(*)::int AS n, pg_is_in_recovery() AS rec FROM ${S}.t WHERE v = 'committed'`,
      )
      return rows[0]
    })
    rec.stop()
    expect(result).toEqual({ n: 1, rec: false })
    expect(rec.seen.map((c) => `${c.operation}:${c.role}:${c.reason}`)).toEqual([
      'transaction:primary:transaction',
    ])
    expect(await admin(serviceUrls.pgPrimary, `SELECT 1 FROM ${S}.t WHERE v = 'committed'`)).toHaveLength(1)
  })

  it('rolls back when the function throws, and rethrows its error', async () => {
    const boom = new Error('boom')
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${S}.t (v) VALUES ('rolled-back')`)
        throw boom
      }),
    ).rejects.toBe(boom)
    expect(await admin(serviceUrls.pgPrimary, `SELECT 1 FROM ${S}.t WHERE v = 'rolled-back'`)).toHaveLength(0)
  })

  it('rethrows an app error that has a code of its own unchanged: not a primary outage, not counted by the breaker', async () => {
    const refused = Object.assign(new Error('out of stock'), { code: 'ERR_QUEUE_NON_RETRYABLE' })
    const tight = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [],
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 1 },
    })
    onTestFinished(() => tight.close())
    for (let i = 0; i < 3; i++) {
      await expect(
        tight.transaction(async (tx) => {
          await tx.query('SELECT 1')
          throw refused
        }),
      ).rejects.toBe(refused)
    }
    await expect(tight.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
  })

  it('rolls back on a SQL error and passes pg’s error through unchanged (SQLSTATE in code)', async () => {
    await db.query(`INSERT INTO ${S}.t (v) VALUES ('dup')`)
    await expect(
      db.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${S}.t (v) VALUES ('first-of-two')`)
        await tx.query(`INSERT INTO ${S}.t (v) VALUES ('dup')`)
      }),
    ).rejects.toMatchObject({ code: '23505' })
    expect(await admin(serviceUrls.pgPrimary, `SELECT 1 FROM ${S}.t WHERE v = 'first-of-two'`)).toHaveLength(
      0,
    )
    // The pool is healthy afterwards: the session was rolled back before it went back.
    await expect(db.transaction(async (tx) => (await tx.query('SELECT 1 AS one')).rows)).resolves.toEqual([
      { one: 1 },
    ])
  })

  it('honours isolation and read-only options', async () => {
    const level = await db.transaction(
      async (tx) =>
        (await tx.query<{ l: string }>('SELECT current_setting($1) AS l', ['transaction_isolation'])).rows[0]
          ?.l,
      {
        isolation: 'serializable',
      },
    )
    expect(level).toBe('serializable')
    await expect(
      db.transaction(async (tx) => tx.query(`INSERT INTO ${S}.t (v) VALUES ('ro')`), { readOnly: true }),
    ).rejects.toMatchObject({ code: '25006' })
    await expect(
      db.transaction(() => Promise.resolve(1), { isolation: 'chaos' as 'serializable' }),
    ).rejects.toMatchObject({ code: 'ERR_DB_INVALID_ARGUMENT' })
  })

  it('connect() checks out a primary session', async () => {
    const client = await db.connect()
    try {
      await client.query('BEGIN')
      await client.query(`INSERT INTO ${S}.t (v) VALUES ('session')`)
      const { rows } = await client.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
      expect(rows[0]?.rec).toBe(false)
      await client.query('COMMIT')
    } finally {
      client.release()
    }
    expect(await admin(serviceUrls.pgPrimary, `SELECT 1 FROM ${S}.t WHERE v = 'session'`)).toHaveLength(1)
  })

  it('refuses transaction control through db.query() before sending it: nothing is left idle in transaction', async () => {
    const app = uniqueName('txctl')
    const one = createDbRouter({
      primary: { connectionString: serviceUrls.pgPrimary, max: 1, application_name: app },
      replicas: [serviceUrls.pgReplica],
    })
    const rec = recordQueries()
    try {
      for (const sql of [
        'BEGIN',
        'START TRANSACTION',
        'SAVEPOINT s1',
        `BEGIN; INSERT INTO ${S}.t (v) VALUES ('after-begin')`,
      ]) {
        const refused = one.query(sql)
        await expect(refused).rejects.toMatchObject({ code: 'ERR_DB_INVALID_ARGUMENT' })
        await expect(refused).rejects.toThrow(/db\.transaction\(\)/)
      }
      expect(rec.seen).toEqual([])
      // The one pooled session takes the next write and commits it: another connection sees it.
      await one.query(`INSERT INTO ${S}.t (v) VALUES ('after-refusal')`)
      expect(
        await admin(serviceUrls.pgPrimary, `SELECT 1 FROM ${S}.t WHERE v = 'after-refusal'`),
      ).toHaveLength(1)
      expect(await admin(serviceUrls.pgPrimary, `SELECT 1 FROM ${S}.t WHERE v = 'after-begin'`)).toHaveLength(
        0,
      )
      const sessions = await admin<{ state: string }>(
        serviceUrls.pgPrimary,
        'SELECT state FROM pg_stat_activity WHERE application_name = $1',
        [app],
      )
      expect(sessions.length).toBeGreaterThan(0)
      expect(sessions.filter((r) => r.state.startsWith('idle in transaction'))).toEqual([])
      // Inside transaction() and connect() sessions, savepoints stay allowed.
      await one.transaction(async (tx) => {
        await tx.query('SAVEPOINT s1')
        await tx.query(`INSERT INTO ${S}.t (v) VALUES ('undone')`)
        await tx.query('ROLLBACK TO SAVEPOINT s1')
      })
      expect(await admin(serviceUrls.pgPrimary, `SELECT 1 FROM ${S}.t WHERE v = 'undone'`)).toHaveLength(0)
    } finally {
      rec.stop()
      await one.close()
    }
  })

  it('writes are never retried: a failing write fails once', async () => {
    const rec = recordQueries()
    await expect(db.query(`INSERT INTO ${S}.t (v) VALUES ('dup')`)).rejects.toMatchObject({ code: '23505' })
    rec.stop()
    expect(rec.seen).toHaveLength(1)
    expect(rec.seen[0]).toMatchObject({
      operation: 'query',
      role: 'primary',
      node: 'primary',
      reason: 'write',
      classification: 'insert',
      attempt: 1,
      errorCode: '23505',
    })
    expect(rec.seen[0]?.durationMs).toBeGreaterThan(0)
  })

  it('refuses bad arguments with coded errors', async () => {
    await expect(db.query(42 as unknown as string)).rejects.toMatchObject({ code: 'ERR_DB_INVALID_ARGUMENT' })
    await expect(db.query('SELECT 1', [], { role: 'nowhere' as 'primary' })).rejects.toMatchObject({
      code: 'ERR_DB_INVALID_ARGUMENT',
    })
    await expect(
      db.query(`INSERT INTO ${S}.t (v) VALUES ('x')`, [], { role: 'replica' }),
    ).rejects.toMatchObject({ code: 'ERR_DB_WRITE_ON_REPLICA' })
    const replica = db.replicas[0]
    await expect(replica?.query(`DELETE FROM ${S}.t`)).rejects.toMatchObject({
      code: 'ERR_DB_WRITE_ON_REPLICA',
    })
    const r = await replica?.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
    expect(r?.rows[0]?.rec).toBe(true)
    const p = await db.primary.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
    expect(p.rows[0]?.rec).toBe(false)
  })

  it('replica sessions are read-only, also when the URL carries its own options, also on pools the app made', async () => {
    const withOptions = `${serviceUrls.pgReplica}?options=${encodeURIComponent('-c search_path=public')}`
    const appPool = new pg.Pool({ connectionString: serviceUrls.pgReplica, options: '-c search_path=public' })
    const appPoolUrlOptions = new pg.Pool({ connectionString: withOptions })
    const other = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [
        serviceUrls.pgReplica,
        withOptions,
        { source: appPool, name: 'app' },
        { source: appPoolUrlOptions, name: 'app-url' },
      ],
    })
    onTestFinished(async () => {
      await appPool.end()
      await appPoolUrlOptions.end()
    })
    try {
      for (const replica of other.replicas) {
        const { rows } = await replica.query<{ ro: string }>(
          "SELECT current_setting('default_transaction_read_only') AS ro",
        )
        expect(rows[0]?.ro).toBe('on')
      }
      const p = await other.primary.query<{ ro: string }>(
        "SELECT current_setting('default_transaction_read_only') AS ro",
      )
      expect(p.rows[0]?.ro).toBe('off')
    } finally {
      await other.close()
    }
  })

  it('a parameterless write in a scope (one round trip: BEGIN; stmt; COMMIT; SELECT lsn) returns its own result and advances the token', async () => {
    const small = createDbRouter({
      primary: { connectionString: serviceUrls.pgPrimary, max: 1 },
      replicas: [serviceUrls.pgReplica],
    })
    try {
      await small.withConsistency(async () => {
        expect(small.consistencyToken()).toBeUndefined()
        const a = await small.query<{ v: string }>(`INSERT INTO ${S}.t (v) VALUES ('wrapped-1') RETURNING v;`)
        expect(a.rows).toEqual([{ v: 'wrapped-1' }])
        const first = small.consistencyToken()
        expect(first).toMatch(/^1\.[0-9a-f]+$/)
        const b = await small.query(
          `UPDATE ${S}.t SET v = 'wrapped-2' WHERE v = 'wrapped-1' -- trailing comment`,
        )
        expect(b.rowCount).toBe(1)
        expect(b.command).toBe('UPDATE')
        expect(BigInt(`0x${small.consistencyToken()?.slice(2) ?? '0'}`)).toBeGreaterThan(
          BigInt(`0x${first?.slice(2) ?? '0'}`),
        )
        // A failing wrapped write is rolled back before its session (the only one: max 1) goes back.
        await expect(small.query(`INSERT INTO ${S}.t (v) VALUES ('dup')`)).rejects.toMatchObject({
          code: '23505',
        })
        const { rows } = await small.primary.query<{ s: string }>(
          "SELECT CASE WHEN now() = statement_timestamp() THEN 'idle' ELSE 'in-transaction' END AS s",
        )
        expect(rows[0]?.s).toBe('idle')
      })
    } finally {
      await small.close()
    }
  })

  it('close() ends its pools and refuses new calls', async () => {
    const other = createDbRouter({ primary: serviceUrls.pgPrimary, replicas: [serviceUrls.pgReplica] })
    await other.query('SELECT 1')
    await other.close()
    await expect(other.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_DB_CLOSED' })
  })
})
