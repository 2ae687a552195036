/**
 * Scenario 3, stampede: how many times the factory runs when many callers ask for one cold key at
 * once — 1000 callers in one process (memory only, and with Redis), and 4 real processes × 250
 * callers through Redis. Counts, not times.
 */
import { fileURLToPath } from 'node:url'
import { runWorkers } from '@scalekit/test-utils'
import { printTable } from '../harness'
import { type BenchContext } from './context'
import type { StampedeWorkerResult } from './stampede-worker'
import { createSubject, LIBRARIES, type Library, type Shape } from './subjects'

const FACTORY_MS = 50
const WORKER = fileURLToPath(new URL('./stampede-worker.ts', import.meta.url))

export interface StampedeRow {
  library: Library
  setup: string
  factoryCalls: number | undefined
  callers: number
  fulfilled: number | undefined
  rejected: number | undefined
  note: string | undefined
}

export interface StampedeResult {
  factoryMs: number
  oneProcessMemory: StampedeRow[]
  oneProcessRedis: StampedeRow[]
  fourProcessesRedis: StampedeRow[]
  targets: { wanted: string; ours: number | undefined; met: boolean }[]
}

async function inProcess(
  ctx: BenchContext,
  library: Library,
  shape: Shape,
  callers: number,
): Promise<StampedeRow> {
  const subject = await createSubject(library, {
    shape,
    prefix: `${ctx.runId}_st1_${shape}_${library}`,
    redisUrl: ctx.redisUrl,
    ttlMs: 600_000,
  })
  try {
    await subject.getOrSet('warm', () => 0)
    let calls = 0
    const factory = async (): Promise<unknown> => {
      calls++
      await new Promise((resolve) => setTimeout(resolve, FACTORY_MS))
      return { n: calls }
    }
    const settled = await Promise.allSettled(
      Array.from({ length: callers }, () => subject.getOrSet('cold', factory)),
    )
    const rejected = settled.filter((s) => s.status === 'rejected')
    return {
      library,
      setup: subject.setup,
      factoryCalls: calls,
      callers,
      fulfilled: settled.length - rejected.length,
      rejected: rejected.length,
      note: rejected.length > 0 ? String((rejected[0] as PromiseRejectedResult).reason) : undefined,
    }
  } finally {
    await subject.close()
  }
}

async function acrossProcesses(
  ctx: BenchContext,
  library: Library,
  processes: number,
  callersEach: number,
): Promise<StampedeRow> {
  try {
    const results = await runWorkers<StampedeWorkerResult>({
      script: WORKER,
      count: processes,
      startTogether: true,
      timeoutMs: 60_000,
      env: {
        BENCH_LIB: library,
        BENCH_CALLERS: String(callersEach),
        BENCH_FACTORY_MS: String(FACTORY_MS),
        BENCH_KEY: 'cold',
        BENCH_PREFIX: `${ctx.runId}_st4_${library}`,
        BENCH_REDIS_URL: ctx.redisUrl,
      },
    })
    const sum = (f: (r: StampedeWorkerResult) => number): number => results.reduce((a, r) => a + f(r), 0)
    const perProcess = results.map((r) => r.factoryCalls).join('+')
    const firstError = results.find((r) => r.firstError !== undefined)?.firstError
    return {
      library,
      setup: '',
      factoryCalls: sum((r) => r.factoryCalls),
      callers: processes * callersEach,
      fulfilled: sum((r) => r.fulfilled),
      rejected: sum((r) => r.rejected),
      note: `per process ${perProcess}${firstError === undefined ? '' : `; ${firstError}`}`,
    }
  } catch (error) {
    return {
      library,
      setup: '',
      factoryCalls: undefined,
      callers: processes * callersEach,
      fulfilled: undefined,
      rejected: undefined,
      note: `n/a (${(error as Error).message.split('\n')[0]})`,
    }
  }
}

export async function runStampede(ctx: BenchContext): Promise<StampedeResult> {
  const oneProcessMemory: StampedeRow[] = []
  const oneProcessRedis: StampedeRow[] = []
  const fourProcessesRedis: StampedeRow[] = []
  for (const library of LIBRARIES) oneProcessMemory.push(await inProcess(ctx, library, 'memory', 1000))
  for (const library of LIBRARIES) oneProcessRedis.push(await inProcess(ctx, library, 'tiered', 1000))
  for (const library of LIBRARIES) {
    const row = await acrossProcesses(ctx, library, 4, 250)
    row.setup = oneProcessRedis.find((r) => r.library === library)!.setup
    fourProcessesRedis.push(row)
  }

  const fmt = (n: number | undefined): string => (n === undefined ? 'n/a' : String(n))
  printTable(`3. Stampede: factory calls for one cold key (factory ${FACTORY_MS} ms); the ideal is 1`, [
    [
      '',
      '1 proc × 1000, memory',
      '1 proc × 1000, Redis',
      '4 procs × 250, Redis',
      'answered (4 × 250)',
      '4-process detail',
    ],
    ...LIBRARIES.map((library, i) => {
      const m = oneProcessMemory[i]!
      const r = oneProcessRedis[i]!
      const p = fourProcessesRedis[i]!
      return [
        library,
        fmt(m.factoryCalls),
        fmt(r.factoryCalls),
        fmt(p.factoryCalls),
        `${fmt(p.fulfilled)} ok, ${fmt(p.rejected)} failed`,
        p.note ?? '',
      ]
    }),
  ])
  for (const row of [...oneProcessMemory, ...oneProcessRedis]) {
    if (row.rejected !== undefined && row.rejected > 0)
      console.log(`   ! ${row.library} (${row.setup}): ${row.rejected} callers failed: ${row.note ?? ''}`)
  }
  console.log('   setups with Redis: ' + oneProcessRedis.map((r) => `${r.library}: ${r.setup}`).join('; '))

  const ours = (rows: StampedeRow[]): StampedeRow => rows.find((r) => r.library === 'scalekit')!
  const targets = [
    {
      wanted: '1 factory call for 1000 callers in 1 process',
      ours: ours(oneProcessMemory).factoryCalls,
      met: ours(oneProcessMemory).factoryCalls === 1 && ours(oneProcessRedis).factoryCalls === 1,
    },
    {
      wanted: '1 factory call for 4 × 250 callers in 4 processes',
      ours: ours(fourProcessesRedis).factoryCalls,
      met: ours(fourProcessesRedis).factoryCalls === 1 && ours(fourProcessesRedis).rejected === 0,
    },
  ]
  for (const t of targets)
    console.log(`   target: ${t.wanted}: ours ${fmt(t.ours)} → ${t.met ? 'MET' : 'NOT MET'}`)
  return { factoryMs: FACTORY_MS, oneProcessMemory, oneProcessRedis, fourProcessesRedis, targets }
}
