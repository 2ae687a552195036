/**
 * The cost of `instrument()` per call: a bare function against the same function instrumented
 * (metrics on, no logger), sync and async, in rotating rounds in this process.
 */
import { performance } from 'node:perf_hooks'
import { createMetrics, instrument } from '@scalekit/observability'
import { median } from '../harness'

function add(a: number, b: number): number {
  return a + b
}
function addAsync(a: number, b: number): Promise<number> {
  return Promise.resolve(a + b)
}

function timeSync(fn: (a: number, b: number) => number, ms: number): number {
  let calls = 0
  let sink = 0
  const end = performance.now() + ms
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) sink += fn(i, calls)
    calls += 256
  }
  if (sink === -1) console.log(sink)
  return calls / (ms / 1000)
}

async function timeAsync(fn: (a: number, b: number) => Promise<number>, ms: number): Promise<number> {
  let calls = 0
  const end = performance.now() + ms
  while (performance.now() < end) {
    for (let i = 0; i < 256; i++) await fn(i, calls)
    calls += 256
  }
  return calls / (ms / 1000)
}

export async function runInstrument(quick: boolean): Promise<unknown> {
  const metrics = createMetrics({ defaultMetrics: false })
  const timed = instrument(add, { name: 'add', metrics })
  const timedAsync = instrument(addAsync, { name: 'addAsync', metrics })
  const rounds = quick ? 1 : 7
  const ms = quick ? 50 : 300
  const sync: { bare: number; instrumented: number }[] = []
  const async_: { bare: number; instrumented: number }[] = []
  for (let r = 0; r < rounds; r++) {
    sync.push({ bare: timeSync(add, ms), instrumented: timeSync(timed, ms) })
    async_.push({ bare: await timeAsync(addAsync, ms), instrumented: await timeAsync(timedAsync, ms) })
  }
  const summary = (rows: { bare: number; instrumented: number }[]) => ({
    bareCallsPerSec: Math.round(median(rows.map((r) => r.bare))),
    instrumentedCallsPerSec: Math.round(median(rows.map((r) => r.instrumented))),
    addedNsPerCall: Math.round(median(rows.map((r) => 1e9 / r.instrumented - 1e9 / r.bare))),
  })
  const rows = { sync: summary(sync), async: summary(async_) }
  console.log('\ninstrument(): per call, metrics on, no logger, medians')
  console.table(rows)
  return rows
}
