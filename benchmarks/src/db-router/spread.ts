/**
 * Scenario 2: how reads spread over two replicas (5434, 5435). Each contender makes the same
 * number of reads, 8 in flight; each read returns `inet_server_port()` of the node that served it.
 * db-router runs once per balancing policy (weighted: 3 : 1); the peers as they come.
 */
import { printTable } from '../harness'
import type { DbBenchContext } from './context'
import { ROWS } from './context'
import type { PrismaKit } from './prisma'
import type { Subject } from './subjects'
import { dbRouter, drizzleReplicas, typeormReplication } from './subjects'

export interface SpreadRow {
  name: string
  policy: string
  reads: number
  byPort: Record<string, number>
  /** Share of the first replica (5434). */
  firstShare: number
  failed: number
}

export async function runSpread(
  ctx: DbBenchContext,
  prisma: PrismaKit | undefined,
): Promise<{ rows: SpreadRow[]; note: string }> {
  const reads = ctx.quick ? 400 : 2000
  const replicas = [ctx.replicaUrl, ctx.replica2Url]
  const ports = replicas.map((u) => new URL(u).port)
  const contenders: { policy: string; make: () => Promise<Subject> }[] = [
    ...(['latency', 'round-robin', 'random', 'least-outstanding'] as const).map((policy) => ({
      policy: `${policy}${policy === 'latency' ? ' (default)' : ''}`,
      make: () => Promise.resolve(dbRouter(ctx, replicas, { balance: policy })),
    })),
    {
      policy: 'weighted 3 : 1',
      make: () =>
        Promise.resolve(
          dbRouter(
            ctx,
            [
              { source: ctx.replicaUrl, weight: 3 },
              { source: ctx.replica2Url, weight: 1 },
            ],
            { balance: 'weighted' },
          ),
        ),
    },
    { policy: 'random (built in)', make: () => Promise.resolve(drizzleReplicas(ctx, replicas)) },
    { policy: 'random (built in)', make: () => typeormReplication(ctx, replicas) },
  ]
  if (prisma !== undefined)
    contenders.push({ policy: 'random (built in)', make: () => Promise.resolve(prisma.create(replicas)) })
  const rows: SpreadRow[] = []
  for (const c of contenders) {
    const s = await c.make()
    try {
      const byPort: Record<string, number> = Object.fromEntries(ports.map((p) => [p, 0]))
      let failed = 0
      let next = 0
      const loop = async (): Promise<void> => {
        while (next < reads) {
          const i = next++
          try {
            const port = String(await s.readPort((i % ROWS) + 1))
            byPort[port] = (byPort[port] ?? 0) + 1
          } catch {
            failed++
          }
        }
      }
      await Promise.all(Array.from({ length: 8 }, loop))
      rows.push({
        name: s.name,
        policy: c.policy,
        reads,
        byPort,
        firstShare: (byPort[ports[0]!] ?? 0) / reads,
        failed,
      })
    } finally {
      await s.close()
    }
  }
  printTable(`2. Spread of ${reads} reads over two replicas, 8 in flight`, [
    ['', 'policy', ...ports.map((p) => `:${p}`), `share :${ports[0]}`, 'other/failed'],
    ...rows.map((r) => [
      r.name,
      r.policy,
      ...ports.map((p) => String(r.byPort[p] ?? 0)),
      `${(r.firstShare * 100).toFixed(1)}%`,
      String(reads - ports.reduce((n, p) => n + (r.byPort[p] ?? 0), 0)),
    ]),
  ])
  return {
    rows,
    note: 'counts by inet_server_port() of the node that answered; "other" would be reads answered by the primary',
  }
}
