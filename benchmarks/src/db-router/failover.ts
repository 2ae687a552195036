/**
 * Scenario 4: one of two replicas dies under load. Replica A is 5434 behind the fault proxy of
 * @scalekit/test-utils, replica B is 5435. Every library runs side by side over the same window:
 * 4 loops each, a read then a 2 ms pause. After `before` ms the proxy dies like a killed server:
 * it stops listening (new connections: ECONNREFUSED) and resets every open connection
 * (ECONNRESET, also mid-query). Failed reads are counted for `after` ms; then the proxy comes
 * back and, for `healed` ms, we count which replica each library reads again.
 */
import { startFaultProxy } from '@scalekit/test-utils'
import { printTable } from '../harness'
import type { DbBenchContext } from './context'
import { ROWS, sleep } from './context'
import type { PrismaKit } from './prisma'
import type { Subject } from './subjects'
import { dbRouter, drizzleReplicas, typeormReplication } from './subjects'

interface Counts {
  ok: number
  failed: number
  onA: number
  onB: number
}

export interface FailoverRow {
  name: string
  before: Counts
  after: Counts
  /** Failed reads in the first second after the cut, and after it. */
  failedFirstSecond: number
  failedLater: number
  healed: Counts
  errors: Record<string, number>
}

export async function runFailover(
  ctx: DbBenchContext,
  prisma: PrismaKit | undefined,
): Promise<{
  windowMs: { before: number; after: number; healed: number }
  rows: FailoverRow[]
  targets: { wanted: string; met: boolean }[]
}> {
  const windowMs = ctx.quick
    ? { before: 1000, after: 3000, healed: 2000 }
    : { before: 2000, after: 8000, healed: 4000 }
  const proxy = await startFaultProxy({ target: ctx.replicaUrl })
  const urlA = proxy.url(ctx.replicaUrl)
  const portA = Number(new URL(ctx.replicaUrl).port)
  const portB = Number(new URL(ctx.replica2Url).port)
  const subjects: Subject[] = [
    dbRouter(ctx, [urlA, ctx.replica2Url]),
    drizzleReplicas(ctx, [urlA, ctx.replica2Url]),
    await typeormReplication(ctx, [urlA, ctx.replica2Url]),
  ]
  if (prisma !== undefined) subjects.push(prisma.create([urlA, ctx.replica2Url]))
  const fresh = (): Counts => ({ ok: 0, failed: 0, onA: 0, onB: 0 })
  const rows: FailoverRow[] = subjects.map((s) => ({
    name: s.name,
    before: fresh(),
    after: fresh(),
    failedFirstSecond: 0,
    failedLater: 0,
    healed: fresh(),
    errors: {},
  }))
  let phase: 'before' | 'after' | 'healed' | 'done' = 'before'
  let cutAt = 0
  try {
    for (const s of subjects)
      await Promise.all(Array.from({ length: 4 }, (_, i) => s.readPort(i + 1).catch(() => 0)))
    const loops = subjects.flatMap((s, k) =>
      Array.from({ length: 4 }, async (_, loop) => {
        const row = rows[k]!
        let i = loop
        while (phase !== 'done') {
          // A read counts in the phase it ends in: one in flight at the cut and reset by it is a failure "after".
          const when = (): 'before' | 'after' | 'healed' => (phase === 'done' ? 'healed' : phase)
          try {
            const port = await s.readPort((i++ % ROWS) + 1)
            const c = row[when()]
            c.ok++
            if (port === portA) c.onA++
            else if (port === portB) c.onB++
          } catch (error) {
            const at = when()
            row[at].failed++
            if (at === 'after') {
              if (performance.now() - cutAt < 1000) row.failedFirstSecond++
              else row.failedLater++
            }
            const e = error as { code?: string; message?: string }
            const key =
              e.code ??
              (e as { cause?: { code?: string } }).cause?.code ??
              (e.message ?? String(error)).slice(0, 60)
            row.errors[key] = (row.errors[key] ?? 0) + 1
          }
          await sleep(2)
        }
      }),
    )
    await sleep(windowMs.before)
    phase = 'after'
    cutAt = performance.now()
    await proxy.refuse(true)
    proxy.reset()
    await sleep(windowMs.after)
    await proxy.refuse(false)
    phase = 'healed'
    await sleep(windowMs.healed)
    phase = 'done'
    await Promise.all(loops)
  } finally {
    phase = 'done'
    await Promise.allSettled(subjects.map((s) => s.close()))
    await proxy.close()
  }
  printTable(
    `4. Replica :${portA} dies mid-load (fault proxy: refuse + reset), 4 loops per library; ${windowMs.before / 1000} s before, ${windowMs.after / 1000} s after, ${windowMs.healed / 1000} s healed`,
    [
      [
        '',
        'ok before',
        'failed before',
        'ok after',
        'failed after',
        '…in 1st s',
        '…later',
        'healed: on A / on B',
        'failed healed',
      ],
      ...rows.map((r) => [
        r.name,
        String(r.before.ok),
        String(r.before.failed),
        String(r.after.ok),
        `${r.after.failed} (${((100 * r.after.failed) / Math.max(1, r.after.ok + r.after.failed)).toFixed(1)}%)`,
        String(r.failedFirstSecond),
        String(r.failedLater),
        `${r.healed.onA} / ${r.healed.onB}`,
        String(r.healed.failed),
      ]),
    ],
  )
  for (const r of rows)
    if (Object.keys(r.errors).length > 0) console.log(`  ${r.name} errors: ${JSON.stringify(r.errors)}`)
  const ours = rows[0]!
  const failed = ours.before.failed + ours.after.failed + ours.healed.failed
  return {
    windowMs,
    rows,
    targets: [
      {
        wanted: `zero failed reads while a replica dies (db-router: ${failed} failed of ${failed + ours.before.ok + ours.after.ok + ours.healed.ok})`,
        met: failed === 0,
      },
    ],
  }
}
