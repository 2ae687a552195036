/**
 * Memory while the broker is down: each library in its own `--expose-gc` process publishes N
 * messages of ~1 KB to a port nothing listens on; heap + Buffer growth after a full GC, and how
 * many publishes it refused at once (a bound) versus held in memory.
 */
import { fileURLToPath } from 'node:url'
import { runWorkers } from '@scalekit/test-utils'
import { printTable } from '../harness'
import type { QueueBenchContext } from './context'
import type { MemoryDownResult } from './memory-child'
import type { Target } from './throughput'

const CHILD = fileURLToPath(new URL('./memory-child.ts', import.meta.url))
const LIBRARIES = ['scalekit', 'amqp-connection-manager', 'rabbitmq-client', 'rascal'] as const

async function child(library: string, count: number): Promise<MemoryDownResult> {
  try {
    const [result] = await runWorkers<MemoryDownResult>({
      script: CHILD,
      count: 1,
      timeoutMs: 60_000,
      env: {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim(),
        BENCH_LIB: library,
        BENCH_COUNT: String(count),
      },
    })
    return result!
  } catch (error) {
    return {
      library,
      setup: '',
      growthBytes: Number.NaN,
      heapGrowthBytes: Number.NaN,
      externalGrowthBytes: Number.NaN,
      refused: 0,
      refusedCodes: {},
      pending: 0,
      note: `n/a (${(error as Error).message.split('\n')[0]})`,
    }
  }
}

const mib = (n: number): string => (Number.isFinite(n) ? `${(n / 1024 / 1024).toFixed(1)} MiB` : 'n/a')

export async function runMemoryDown(
  ctx: QueueBenchContext,
): Promise<{ count: number; rows: MemoryDownResult[]; targets: Target[] }> {
  const counts = ctx.quick ? [10_000] : [10_000, 50_000]
  const rows: MemoryDownResult[] = []
  for (const count of counts)
    for (const library of LIBRARIES)
      rows.push({ ...(await child(library, count)), count } as MemoryDownResult & { count: number })
  printTable(
    `Memory while the broker is down: N publishes of ~1 KB, none awaited, 2 s later, after a full GC (one process per row)`,
    [
      ['', 'N', 'heap + buffers', 'held', 'refused at once', 'note'],
      ...rows.map((r) => {
        const n = (r as MemoryDownResult & { count: number }).count
        return [
          r.library === 'scalekit' ? '@scalekit/queue' : r.library,
          String(n),
          mib(r.growthBytes),
          String(r.pending),
          `${r.refused} ${JSON.stringify(r.refusedCodes)}`,
          r.note ?? r.setup,
        ]
      }),
    ],
  )
  const ours = rows.filter((r) => r.library === 'scalekit')
  const small = ours[0]
  const large = ours.at(-1)
  // Flat: the larger N grows memory by no more than 25 % over the smaller one, and ours holds at most buffer.maxMessages.
  const flat =
    small !== undefined &&
    large !== undefined &&
    large.growthBytes <= small.growthBytes * 1.25 + 2 * 1024 * 1024 &&
    large.pending <= 10_000
  return {
    count: counts.at(-1)!,
    rows,
    targets: [
      { wanted: 'memory flat while the broker is down (the bound rejects at once past it)', met: flat },
    ],
  }
}
