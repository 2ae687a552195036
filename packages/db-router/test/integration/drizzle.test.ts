import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { eq, sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { pgSchema, serial, text } from 'drizzle-orm/pg-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { drizzleClient } from '../../src/adapters/drizzle'
import { createDbRouter } from '../../src/index'
import type { DbRouter } from '../../src/index'
import { admin, recordQueries, waitForReplay } from './helpers'

const S = uniqueName('drizzle')
const schema = pgSchema(S)
const users = schema.table('users', { id: serial('id').primaryKey(), name: text('name').notNull() })

describe('drizzle-orm (node-postgres driver) over the router, through @scalekit/db-router/drizzle', () => {
  let router: DbRouter
  let orm: ReturnType<typeof drizzle>

  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica')
    await admin(
      serviceUrls.pgPrimary,
      `CREATE SCHEMA ${S}; CREATE TABLE ${S}.users (id serial PRIMARY KEY, name text NOT NULL); INSERT INTO ${S}.users (name) VALUES ('ada')`,
    )
    await waitForReplay(serviceUrls.pgPrimary, serviceUrls.pgReplica)
    router = createDbRouter({ primary: serviceUrls.pgPrimary, replicas: [serviceUrls.pgReplica] })
    orm = drizzle({ client: drizzleClient(router) })
  })

  afterAll(async () => {
    await router.close()
    await admin(serviceUrls.pgPrimary, `DROP SCHEMA IF EXISTS ${S} CASCADE`)
  })

  async function where<T>(fn: () => Promise<T>): Promise<{ result: T; nodes: string[] }> {
    const rec = recordQueries()
    try {
      const result = await fn()
      return { result, nodes: rec.seen.map((c) => c.node) }
    } finally {
      rec.stop()
    }
  }

  it('select → replica', async () => {
    const { result, nodes } = await where(() => orm.select().from(users).where(eq(users.name, 'ada')))
    expect(result).toEqual([{ id: 1, name: 'ada' }])
    expect(nodes).toEqual(['replica-0'])
  })

  it('insert / update / delete → primary', async () => {
    const inserted = await where(() => orm.insert(users).values({ name: 'grace' }).returning())
    expect(inserted.result[0]?.name).toBe('grace')
    expect(inserted.nodes).toEqual(['primary'])
    expect(
      (await where(() => orm.update(users).set({ name: 'grace h' }).where(eq(users.name, 'grace')))).nodes,
    ).toEqual(['primary'])
    expect((await where(() => orm.delete(users).where(eq(users.name, 'nobody')))).nodes).toEqual(['primary'])
  })

  it('select … for update → primary', async () => {
    const { nodes } = await where(() => orm.select().from(users).where(eq(users.id, 1)).for('update'))
    expect(nodes).toEqual(['primary'])
  })

  it('raw sql through execute() is classified like any statement', async () => {
    const read = await where(() => orm.execute<{ rec: boolean }>(sql`select pg_is_in_recovery() as rec`))
    expect(read.result.rows[0]?.rec).toBe(true)
    const write = await where(() => orm.execute(sql`select nextval(${`${S}.users_id_seq`})`))
    expect(write.nodes).toEqual(['primary'])
  })

  it('the router alone is not taken for a pg Pool by drizzle-orm (so its transactions need the adapter)', () => {
    // drizzle-orm's check (node-postgres/session.js): `instanceof Pool` or a constructor name containing "Pool".
    const name = (client: object): string =>
      (Object.getPrototypeOf(client) as { constructor: { name: string } }).constructor.name
    expect(name(router)).not.toContain('Pool')
    expect(name(drizzleClient(router))).toContain('Pool')
  })

  it('transaction() checks out a primary session through connect(): every statement in it runs there', async () => {
    const rec = await orm.transaction(async (tx) => {
      await tx.insert(users).values({ name: 'in tx' })
      const [row] = (await tx.execute<{ rec: boolean }>(sql`select pg_is_in_recovery() as rec`)).rows
      const seen = await tx.select().from(users).where(eq(users.name, 'in tx'))
      return { rec: row?.rec, seen: seen.length }
    })
    expect(rec).toEqual({ rec: false, seen: 1 })
  })
})
