/**
 * Scenario 5: misrouting. `pg_try_advisory_lock` (a standby grants it, and it protects nothing)
 * and `SELECT … FOR UPDATE` (a standby refuses it with 25006), sent through each library the ways
 * its users write them; each statement also selects `pg_is_in_recovery()`, so its row says where
 * it ran. A 25006 error means it was sent to a replica.
 */
import { eq, sql } from 'drizzle-orm'
import { printTable } from '../harness'
import type { DbBenchContext } from './context'
import type { PrismaKit } from './prisma'
import { dbRouter, drizzleReplicas, typeormReplication } from './subjects'

export interface MisrouteRow {
  library: string
  statement: 'pg_try_advisory_lock' | 'SELECT … FOR UPDATE'
  how: string
  ranOn: string
  misrouted: boolean
}

type Probe = () => Promise<{ on_replica?: boolean; onReplica?: unknown } | undefined>

async function where(probe: Probe): Promise<{ ranOn: string; misrouted: boolean }> {
  try {
    const row = await probe()
    const onReplica = row?.on_replica ?? row?.onReplica
    if (onReplica === true) return { ranOn: 'replica', misrouted: true }
    if (onReplica === false) return { ranOn: 'primary', misrouted: false }
    return { ranOn: `? (${JSON.stringify(row)})`, misrouted: false }
  } catch (error) {
    const e = error as { code?: string; message?: string; cause?: { code?: string } }
    const code = e.code ?? e.cause?.code
    if (code === '25006') return { ranOn: 'replica (refused there: 25006)', misrouted: true }
    return {
      ranOn: `not sent: ${(e.message ?? String(error)).split('\n')[0]!.slice(0, 70)}`,
      misrouted: false,
    }
  }
}

export async function runMisroute(
  ctx: DbBenchContext,
  prisma: PrismaKit | undefined,
): Promise<{ rows: MisrouteRow[]; targets: { wanted: string; met: boolean }[] }> {
  const key = Math.floor(Math.random() * 1e9)
  const t = ctx.table
  const lockSql = 'SELECT pg_try_advisory_lock($1) AS locked, pg_is_in_recovery() AS on_replica'
  const forUpdateSql = `SELECT val, pg_is_in_recovery() AS on_replica FROM ${t} WHERE id = 1 FOR UPDATE`
  const rows: MisrouteRow[] = []
  const add = async (
    library: string,
    statement: MisrouteRow['statement'],
    how: string,
    probe: Probe,
  ): Promise<void> => {
    rows.push({ library, statement, how, ...(await where(probe)) })
  }
  const replicas = [ctx.replicaUrl]

  const router = dbRouter(ctx, replicas)
  const drz = drizzleReplicas(ctx, replicas)
  const orm = await typeormReplication(ctx, replicas)
  const prs = prisma?.create(replicas)
  try {
    const db = router.db
    await add(
      router.name,
      'pg_try_advisory_lock',
      'db.query(sql, [key])',
      async () => (await db.query(lockSql, [key])).rows[0],
    )
    await add(
      router.name,
      'SELECT … FOR UPDATE',
      'db.query(sql)',
      async () => (await db.query(forUpdateSql)).rows[0],
    )

    const d = drz.db
    const dt = drz.table
    await add(
      drz.name,
      'pg_try_advisory_lock',
      'db.execute(sql`…`)',
      async () =>
        (
          await d.execute(
            sql`SELECT pg_try_advisory_lock(${key + 1}) AS locked, pg_is_in_recovery() AS on_replica`,
          )
        ).rows[0],
    )
    await add(
      drz.name,
      'pg_try_advisory_lock',
      'db.select({ locked: sql`…` }).from(t)',
      async () =>
        (
          await d
            .select({
              locked: sql<boolean>`pg_try_advisory_lock(${key + 2})`,
              onReplica: sql<boolean>`pg_is_in_recovery()`,
            })
            .from(dt)
            .where(eq(dt.id, 1))
        )[0],
    )
    await add(
      drz.name,
      'SELECT … FOR UPDATE',
      "db.select().from(t).where(…).for('update')",
      async () =>
        (
          await d
            .select({ val: dt.val, onReplica: sql<boolean>`pg_is_in_recovery()` })
            .from(dt)
            .where(eq(dt.id, 1))
            .for('update')
        )[0],
    )

    const ds = orm.ds
    await add(
      orm.name,
      'pg_try_advisory_lock',
      'dataSource.query(sql, [key])',
      async () => (await ds.query<{ on_replica: boolean }[]>(lockSql, [key + 3]))[0],
    )
    await add(orm.name, 'pg_try_advisory_lock', 'createQueryBuilder().select(…).getRawOne()', async () =>
      ds
        .createQueryBuilder()
        .select('pg_try_advisory_lock(:key)', 'locked')
        .addSelect('pg_is_in_recovery()', 'on_replica')
        .from(t, 't')
        .where('t.id = 1')
        .setParameter('key', key + 4)
        .getRawOne<{ on_replica: boolean }>(),
    )
    await add(orm.name, 'SELECT … FOR UPDATE', "qb.setLock('pessimistic_write').getRawOne()", async () =>
      ds
        .getRepository(orm.schema)
        .createQueryBuilder('t')
        .select('t.val', 'val')
        .addSelect('pg_is_in_recovery()', 'on_replica')
        .where('t.id = 1')
        .setLock('pessimistic_write')
        .getRawOne<{ on_replica: boolean }>(),
    )
    await add(orm.name, 'SELECT … FOR UPDATE', 'the same in dataSource.transaction()', async () =>
      ds.transaction((m) =>
        m
          .getRepository(orm.schema)
          .createQueryBuilder('t')
          .select('t.val', 'val')
          .addSelect('pg_is_in_recovery()', 'on_replica')
          .where('t.id = 1')
          .setLock('pessimistic_write')
          .getRawOne<{ on_replica: boolean }>(),
      ),
    )

    if (prs !== undefined) {
      const c = prs.client
      await add(
        prs.name,
        'pg_try_advisory_lock',
        '$queryRawUnsafe(sql, key)',
        async () => (await c.$queryRawUnsafe<{ on_replica: boolean }[]>(lockSql, key + 5))[0],
      )
      await add(
        prs.name,
        'SELECT … FOR UPDATE',
        '$queryRawUnsafe(sql)',
        async () => (await c.$queryRawUnsafe<{ on_replica: boolean }[]>(forUpdateSql))[0],
      )
    }
  } finally {
    await Promise.allSettled([router.close(), drz.close(), orm.close(), prs?.close()])
  }
  printTable('5. Misrouting: where each statement ran (primary + one replica configured)', [
    ['', 'statement', 'written as', 'ran on', ''],
    ...rows.map((r) => [r.library, r.statement, r.how, r.ranOn, r.misrouted ? 'MISROUTED' : 'ok']),
  ])
  const ours = rows.filter((r) => r.library === router.name)
  return {
    rows,
    targets: [
      {
        wanted: `nothing misrouted by db-router (${ours.filter((r) => r.misrouted).length} of ${ours.length} on a replica)`,
        met: ours.every((r) => !r.misrouted && r.ranOn === 'primary'),
      },
    ],
  }
}
