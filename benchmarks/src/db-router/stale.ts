/**
 * Scenario 3: stale reads after a write. Replay is paused on 5435 and every library reads from
 * 5435 only. One round = one unit of work: write a new value to a row (on the primary), then read
 * it back through the library's normal read path; a read that does not return the new value is
 * stale. db-router runs its rounds inside `withConsistency` (and once without, for comparison).
 * Then replay is resumed and db-router's scoped rounds run again: no stale read, and the reads go
 * back to the replica (counted by `inet_server_port()` of the node that served them).
 */
import { printTable } from '../harness'
import type { DbBenchContext } from './context'
import { replayState, sleep, waitForReplay, withReplayPaused } from './context'
import type { PrismaKit } from './prisma'
import type { RouterSubject, Subject } from './subjects'
import { dbRouter, drizzleReplicas, typeormReplication } from './subjects'

export interface StaleRow {
  name: string
  phase: 'replay paused' | 'replay resumed'
  rounds: number
  stale: number
  failed: number
  /** Reads served by the replica (5435), when the library lets us see it. */
  onReplica?: number
  onPrimary?: number
  ms: number
}

/** db-router's read-your-writes wait: short, so that 500 paused rounds take seconds, not 100 s (default 200 ms). */
const CONSISTENCY = { maxWait: 20, pollInterval: 2 }

export async function runStale(
  ctx: DbBenchContext,
  prisma: PrismaKit | undefined,
): Promise<{
  rows: StaleRow[]
  consistency: typeof CONSISTENCY
  targets: { wanted: string; met: boolean }[]
}> {
  const rounds = ctx.quick ? 100 : 500
  const resumedRounds = ctx.quick ? 50 : 200
  const replica = ctx.replica2Url
  const replicaPort = Number(new URL(replica).port)
  const primaryPort = Number(new URL(ctx.primaryUrl).port)
  const before = await replayState(replica)
  if (before.paused || (before.delay !== '0' && before.delay !== '0ms')) {
    console.log(
      `  note: ${replica} was already paused=${String(before.paused)} delay=${before.delay} before this scenario (another run?)`,
    )
  }
  const scoped = dbRouter(
    ctx,
    [replica],
    { consistency: CONSISTENCY },
    '@scalekit/db-router (withConsistency)',
  )
  const unscoped = dbRouter(ctx, [replica], {}, '@scalekit/db-router (no scope)', false)
  const subjects: Subject[] = [
    scoped,
    unscoped,
    drizzleReplicas(ctx, [replica]),
    await typeormReplication(ctx, [replica]),
  ]
  if (prisma !== undefined) subjects.push(prisma.create([replica]))
  const rows: StaleRow[] = []
  const routerRounds = async (
    s: RouterSubject,
    id: number,
    n: number,
    base: number,
    phase: StaleRow['phase'],
  ): Promise<StaleRow> => {
    const row: StaleRow = {
      name: s.name,
      phase,
      rounds: n,
      stale: 0,
      failed: 0,
      onReplica: 0,
      onPrimary: 0,
      ms: 0,
    }
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      const value = base + i
      try {
        const read = await s.unit(async () => {
          await s.writeVal(id, value)
          return (
            await s.db.query<{ val: number; port: number }>(
              `SELECT val, inet_server_port() AS port FROM ${ctx.table} WHERE id = $1`,
              [id],
            )
          ).rows[0]
        })
        if (read?.val !== value) row.stale++
        if (read?.port === replicaPort) row.onReplica! += 1
        else if (read?.port === primaryPort) row.onPrimary! += 1
      } catch {
        row.failed++
      }
    }
    row.ms = Math.round(performance.now() - t0)
    return row
  }
  try {
    // Warm every library (connections, classification) while the replica still replays.
    for (const [k, s] of subjects.entries()) {
      await s.writeVal(k + 1, 0)
      await s.readVal(k + 1)
    }
    await waitForReplay(ctx, replica)
    await withReplayPaused(replica, async () => {
      for (const [k, s] of subjects.entries()) {
        const id = k + 1
        const base = (k + 1) * 1_000_000
        if (s === scoped || s === unscoped) {
          rows.push(await routerRounds(s as RouterSubject, id, rounds, base, 'replay paused'))
          continue
        }
        const row: StaleRow = { name: s.name, phase: 'replay paused', rounds, stale: 0, failed: 0, ms: 0 }
        const t0 = performance.now()
        for (let i = 0; i < rounds; i++) {
          const value = base + i
          try {
            const read = await s.unit(async () => {
              await s.writeVal(id, value)
              return s.readVal(id)
            })
            if (read !== value) row.stale++
          } catch {
            row.failed++
          }
        }
        row.ms = Math.round(performance.now() - t0)
        rows.push(row)
      }
    })
    // Resumed: the replica catches up; the router readmits it if its lag checks had excluded it.
    await waitForReplay(ctx, replica)
    for (let i = 0; i < 100 && !scoped.db.health().replicas.every((r) => r.usable); i++) await sleep(100)
    rows.push(await routerRounds(scoped, 1, resumedRounds, 9_000_000, 'replay resumed'))
  } finally {
    await Promise.allSettled(subjects.map((s) => s.close()))
  }
  printTable(
    `3. Stale reads after a write: write then read, replay paused on :${replicaPort}, reads pointed at it only`,
    [
      ['', 'phase', 'rounds', 'stale', 'failed', 'read on replica', 'read on primary', 'took'],
      ...rows.map((r) => [
        r.name,
        r.phase,
        String(r.rounds),
        String(r.stale),
        String(r.failed),
        r.onReplica === undefined ? '(all)' : String(r.onReplica),
        r.onPrimary === undefined ? '-' : String(r.onPrimary),
        `${(r.ms / 1000).toFixed(1)} s`,
      ]),
    ],
  )
  const paused = rows.find((r) => r.name === scoped.name && r.phase === 'replay paused')
  const resumed = rows.find((r) => r.name === scoped.name && r.phase === 'replay resumed')
  const targets = [
    {
      wanted: `zero stale reads in a consistency scope with replay paused (got ${paused?.stale ?? '?'} of ${rounds}, ${paused?.failed ?? '?'} failed)`,
      met: paused?.stale === 0 && paused.failed === 0,
    },
    {
      wanted: `scoped reads go back to the replica once it has caught up (got ${resumed?.onReplica ?? '?'} of ${resumedRounds} on the replica, ${resumed?.stale ?? '?'} stale)`,
      met:
        resumed !== undefined &&
        resumed.stale === 0 &&
        resumed.failed === 0 &&
        (resumed.onReplica ?? 0) >= resumedRounds * 0.9,
    },
  ]
  return { rows, consistency: CONSISTENCY, targets }
}
