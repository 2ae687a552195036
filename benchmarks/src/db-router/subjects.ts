/**
 * The contenders, each set up as its README tells a user to: @scalekit/db-router, raw pg.Pool (the
 * floor, one replica), drizzle-orm `withReplicas`, TypeORM `replication`. Each exposes the same
 * few operations so that every scenario drives them alike.
 */
import { createDbRouter } from '@scalekit/db-router'
import type { DbRouter, DbRouterOptions } from '@scalekit/db-router'
import { eq, sql } from 'drizzle-orm'
import { drizzle } from 'drizzle-orm/node-postgres'
import { integer, pgTable, text, withReplicas } from 'drizzle-orm/pg-core'
import pg from 'pg'
import { DataSource, EntitySchema, EntitySchemaOptions } from 'typeorm'
import type { DbBenchContext } from './context'

export interface Row {
  id: number
  val: number
  name: string
}

/** One library pointed at a primary and some replicas. */
export interface Subject {
  readonly name: string
  /** The throughput statement: one row by primary key. */
  readPoint(id: number): Promise<unknown>
  /** `val` of one row, through the library's normal read path. */
  readVal(id: number): Promise<number | undefined>
  /** `inet_server_port()` of the node that served a normal read. */
  readPort(id: number): Promise<number>
  /** `UPDATE … SET val` through the library's normal write path. */
  writeVal(id: number, val: number): Promise<void>
  /** How one unit of work (a request) runs: db-router opens a consistency scope; the peers have none. */
  unit<T>(fn: () => Promise<T>): Promise<T>
  close(): Promise<void>
}

const identity = <T>(fn: () => Promise<T>): Promise<T> => fn()

/** pg.Pool errors on idle clients (a replica cut) must not crash the run. */
function pool(url: string, extra: pg.PoolConfig = {}): pg.Pool {
  const p = new pg.Pool({ connectionString: url, ...extra })
  p.on('error', () => undefined)
  return p
}

/** Raw pg on one node: the floor. `queryTimeout` adds pg's per-query client timer (what the router sets). */
export function rawPg(
  ctx: DbBenchContext,
  url: string,
  name = 'raw pg.Pool (floor)',
  queryTimeout?: number,
): Subject {
  const p = pool(url, queryTimeout === undefined ? {} : { query_timeout: queryTimeout })
  const text = `SELECT id, val, name FROM ${ctx.table} WHERE id = $1`
  return {
    name,
    readPoint: (id) => p.query(text, [id]),
    readVal: async (id) =>
      (await p.query<{ val: number }>(`SELECT val FROM ${ctx.table} WHERE id = $1`, [id])).rows[0]?.val,
    readPort: async (id) =>
      (
        await p.query<{ port: number }>(`SELECT inet_server_port() AS port FROM ${ctx.table} WHERE id = $1`, [
          id,
        ])
      ).rows[0]!.port,
    writeVal: () => Promise.reject(new Error('raw pg on a replica cannot write')),
    unit: identity,
    close: () => p.end(),
  }
}

export interface RouterSubject extends Subject {
  readonly db: DbRouter
}

export function dbRouter(
  ctx: DbBenchContext,
  replicas: DbRouterOptions['replicas'],
  options: Partial<DbRouterOptions> = {},
  name = '@scalekit/db-router',
  scoped = true,
): RouterSubject {
  const db = createDbRouter({ primary: ctx.primaryUrl, replicas, ...options })
  const text = `SELECT id, val, name FROM ${ctx.table} WHERE id = $1`
  return {
    name,
    db,
    readPoint: (id) => db.query(text, [id]),
    readVal: async (id) =>
      (await db.query<{ val: number }>(`SELECT val FROM ${ctx.table} WHERE id = $1`, [id])).rows[0]?.val,
    readPort: async (id) =>
      (
        await db.query<{ port: number }>(
          `SELECT inet_server_port() AS port FROM ${ctx.table} WHERE id = $1`,
          [id],
        )
      ).rows[0]!.port,
    writeVal: async (id, val) => {
      await db.query(`UPDATE ${ctx.table} SET val = $1 WHERE id = $2`, [val, id])
    },
    unit: scoped ? (fn) => db.withConsistency(fn) : identity,
    close: () => db.close(),
  }
}

export interface DrizzleSubject extends Subject {
  readonly db: ReturnType<typeof drizzleDb>
  readonly table: ReturnType<typeof drizzleTable>
}

function drizzleTable(ctx: DbBenchContext) {
  return pgTable(ctx.table, {
    id: integer('id').primaryKey(),
    val: integer('val').notNull(),
    name: text('name').notNull(),
  })
}

function drizzleDb(primary: pg.Pool, replicas: pg.Pool[]) {
  const [first, ...rest] = replicas.map((p) => drizzle({ client: p }))
  return withReplicas(drizzle({ client: primary }), [first!, ...rest])
}

/** drizzle-orm `withReplicas(primary, [replicas])`: selects go to a random replica, the rest to the primary. */
export function drizzleReplicas(ctx: DbBenchContext, replicaUrls: readonly string[]): DrizzleSubject {
  const primaryPool = pool(ctx.primaryUrl)
  const replicaPools = replicaUrls.map((u) => pool(u))
  const db = drizzleDb(primaryPool, replicaPools)
  const t = drizzleTable(ctx)
  return {
    name: 'drizzle-orm withReplicas',
    db,
    table: t,
    readPoint: (id) => db.select().from(t).where(eq(t.id, id)),
    readVal: async (id) => (await db.select({ val: t.val }).from(t).where(eq(t.id, id)))[0]?.val,
    readPort: async (id) =>
      (
        await db
          .select({ port: sql<number>`inet_server_port()` })
          .from(t)
          .where(eq(t.id, id))
      )[0]!.port,
    writeVal: async (id, val) => {
      await db.update(t).set({ val }).where(eq(t.id, id))
    },
    unit: identity,
    close: async () => {
      await Promise.all([primaryPool, ...replicaPools].map((p) => p.end()))
    },
  }
}

export interface TypeormSubject extends Subject {
  readonly ds: DataSource
  readonly schema: EntitySchema<Row>
}

/** TypeORM `replication: { master, slaves }`: reads of repositories and query builders go to a random slave. */
export async function typeormReplication(
  ctx: DbBenchContext,
  replicaUrls: readonly string[],
): Promise<TypeormSubject> {
  const schema = new EntitySchema<Row>(
    Object.assign(new EntitySchemaOptions<Row>(), {
      name: `Row_${ctx.runId}`,
      tableName: ctx.table,
      columns: { id: { type: Number, primary: true }, val: { type: Number }, name: { type: String } },
    }),
  )
  const ds = new DataSource({
    type: 'postgres',
    replication: { master: { url: ctx.primaryUrl }, slaves: replicaUrls.map((url) => ({ url })) },
    entities: [schema],
    synchronize: false,
    logging: false,
  })
  await ds.initialize()
  const repo = ds.getRepository(schema)
  return {
    name: 'TypeORM replication',
    ds,
    schema,
    readPoint: (id) => repo.findOneBy({ id }),
    readVal: async (id) => (await repo.findOneBy({ id }))?.val,
    readPort: async (id) => {
      const row = await ds
        .createQueryBuilder()
        .select('inet_server_port()', 'port')
        .from(ctx.table, 't')
        .where('t.id = :id', { id })
        .getRawOne<{ port: number }>()
      return row!.port
    },
    writeVal: async (id, val) => {
      await repo.update({ id }, { val })
    },
    unit: identity,
    close: () => ds.destroy(),
  }
}
