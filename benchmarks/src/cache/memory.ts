/**
 * Scenario 5, memory: 100 000 random ~1 KB values into a 16 MiB in-process budget. Each library
 * runs in its own process with `--expose-gc` so heap figures are its own; heap growth is measured
 * after a full GC.
 */
import { fileURLToPath } from 'node:url'
import { runWorkers } from '@scalekit/test-utils'
import { printTable } from '../harness'
import type { BenchContext } from './context'
import type { MemoryChildResult } from './memory-child'
import type { Library } from './subjects'

const CHILD = fileURLToPath(new URL('./memory-child.ts', import.meta.url))
const BUDGET = 16 * 1024 * 1024

/** What each library offers to bound its in-process store, as documented or as its types show. */
const BOUNDS: Record<Library, string> = {
  scalekit: 'l1.maxEntries + l1.maxBytes (encoded bytes + key + 128 B/entry)',
  bentocache: 'memory driver maxItems + maxSize (serialized bytes; needs serialize: true)',
  'cache-manager': 'none of its own (keyv Map is unbounded); a bounded Map-like store can be passed to keyv',
  cachified:
    'none of its own: whatever the cache you adapt offers (lru-cache max/maxSize + your sizeCalculation)',
}

export interface MemoryRow extends Partial<MemoryChildResult> {
  library: Library
  bounded: boolean
  offers: string
  note?: string
}

export interface MemoryResult {
  count: number
  valueBytes: number
  budgetBytes: number
  rows: MemoryRow[]
  target: { wanted: string; ours: number | undefined; met: boolean }
}

async function child(library: Library, bounded: boolean, count: number): Promise<MemoryRow> {
  try {
    const [result] = await runWorkers<MemoryChildResult>({
      script: CHILD,
      count: 1,
      timeoutMs: 120_000,
      env: {
        NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc`.trim(),
        BENCH_LIB: library,
        BENCH_BOUNDED: bounded ? '1' : '0',
        BENCH_COUNT: String(count),
        BENCH_MAX_BYTES: String(BUDGET),
      },
    })
    return { ...result!, bounded, offers: BOUNDS[library] }
  } catch (error) {
    return {
      library,
      bounded,
      offers: BOUNDS[library],
      note: `n/a (${(error as Error).message.split('\n')[0]})`,
    }
  }
}

const mib = (n: number | undefined): string =>
  n === undefined ? 'n/a' : `${(n / 1024 / 1024).toFixed(1)} MiB`

export async function runMemory(ctx: BenchContext): Promise<MemoryResult> {
  const count = ctx.quick ? 20_000 : 100_000
  const rows: MemoryRow[] = []
  for (const library of ['scalekit', 'bentocache', 'cache-manager', 'cachified'] as const)
    rows.push(await child(library, true, count))
  rows.push(await child('cache-manager', false, count))

  printTable(
    `5. Memory: ${count} random 1 KB values into a ${mib(BUDGET)} budget, heap growth after full GC (one process per row)`,
    [
      ['', 'heap growth', 'rss growth', 'entries held', 'write time', 'bound used'],
      ...rows.map((r) => [
        r.library + (r.bounded ? '' : ' (default, unbounded)'),
        r.note ?? mib(r.heapGrowthBytes),
        mib(r.rssGrowthBytes),
        r.entriesHeld === undefined ? 'not exposed' : String(r.entriesHeld),
        r.writeMs === undefined ? '' : `${(r.writeMs / 1000).toFixed(2)} s`,
        r.setup ?? '',
      ]),
    ],
  )
  for (const library of ['scalekit', 'bentocache', 'cache-manager', 'cachified'] as const)
    console.log(`   ${library} offers: ${BOUNDS[library]}`)
  const ours = rows.find((r) => r.library === 'scalekit')
  if (ours?.oursL1 !== undefined)
    console.log(
      `   scalekit health().l1: ${ours.oursL1.entries} entries, ${ours.oursL1.bytes} bytes counted (budget ${BUDGET})`,
    )
  // "Near the budget": within 1.5× of it (the budget counts encoded bytes; the heap also holds keys, entry objects and the LRU's arrays).
  const growth = ours?.heapGrowthBytes
  const target = {
    wanted: 'heap growth near the 16 MiB budget (≤ 1.5 × budget)',
    ours: growth,
    met: growth !== undefined && growth <= 1.5 * BUDGET,
  }
  console.log(`   target: ${target.wanted}: ours ${mib(growth)} → ${target.met ? 'MET' : 'NOT MET'}`)
  return { count, valueBytes: 1024, budgetBytes: BUDGET, rows, target }
}
