/**
 * One run of the memory scenario, in its own process started with `--expose-gc`: writes
 * `BENCH_COUNT` random ~1 KB values under random keys into one library's in-process store,
 * bounded by `BENCH_MAX_BYTES` where the library can be, and reports the heap growth after a
 * full GC.
 */
import { randomBytes } from 'node:crypto'
import { reportResult } from '@scalekit/test-utils/worker'
import { createOurs, createSubject, type Library, type Subject } from './subjects'

export interface MemoryChildResult {
  library: Library
  setup: string
  heapGrowthBytes: number
  rssGrowthBytes: number
  entriesHeld: number | undefined
  /** Ours only: `health().l1` after the run. */
  oursL1: { entries: number; bytes: number } | undefined
  writeMs: number
}

const gc = globalThis.gc
if (gc === undefined) throw new Error('run with --expose-gc')
const fullGc = (): void => {
  for (let i = 0; i < 3; i++) gc()
}

const library = process.env.BENCH_LIB as Library
const bounded = process.env.BENCH_BOUNDED !== '0'
const count = Number(process.env.BENCH_COUNT ?? '100000')
const memory = {
  maxEntries: 1_000_000,
  maxBytes: Number(process.env.BENCH_MAX_BYTES ?? String(16 * 1024 * 1024)),
}
const options = { shape: 'memory' as const, prefix: 'mem', ttlMs: 600_000, ...(bounded ? { memory } : {}) }

let subject: Subject
let stats: (() => { entries: number; bytes: number } | undefined) | undefined
if (library === 'scalekit') {
  const ours = createOurs(options)
  subject = ours.subject
  stats = () => ours.health().l1
} else {
  subject = await createSubject(library, options)
}
// Warm the code paths so the baseline already holds the compiled code and the library's lazies.
for (let i = 0; i < 100; i++) await subject.set(`warm:${i}`, randomBytes(768).toString('base64'))

fullGc()
const before = process.memoryUsage()
const started = performance.now()
for (let i = 0; i < count; i++) {
  // 768 random bytes → 1024 base64 characters: ~1 KB, incompressible, under a random key.
  await subject.set(`k:${randomBytes(8).toString('hex')}`, randomBytes(768).toString('base64'))
}
const writeMs = performance.now() - started
fullGc()
const after = process.memoryUsage()

const result: MemoryChildResult = {
  library,
  setup: subject.setup,
  heapGrowthBytes: after.heapUsed - before.heapUsed,
  rssGrowthBytes: after.rss - before.rss,
  entriesHeld: subject.memoryEntries?.(),
  oursL1: stats?.(),
  writeMs,
}
await reportResult(result)
await subject.close(1_000)
process.exit(0)
