/**
 * The measuring side of every benchmark: timed loops (sequential and N-in-flight), rounds that
 * interleave the contenders in a rotating order, medians, and the printed tables.
 *
 * Every contender of a scenario runs in the same process and the same run, round after round, so
 * a slower machine or a noisy neighbour moves all of them together and the ratios stay meaningful.
 */
import { cpus, loadavg, platform, release, totalmem } from 'node:os'
import { performance } from 'node:perf_hooks'
import { setImmediate as yieldToLoop } from 'node:timers/promises'

/** What one timed run of one contender measured. */
export interface Sample {
  opsPerSec: number
  /** Median latency of one operation, µs. */
  p50Us: number
  /** 99th percentile latency of one operation, µs. */
  p99Us: number
  ops: number
}

/** A contender: something with one operation to time. `floor` marks the baseline ratios are taken against. */
export interface Contender {
  readonly name: string
  readonly floor?: boolean
}

/** The summary of one contender over every round. */
export interface Summary {
  name: string
  floor: boolean
  /** Medians over the rounds. */
  opsPerSec: number
  p50Us: number
  p99Us: number
  /** Median over the rounds of (this contender's ops/s ÷ the floor's ops/s in the same round). */
  ratioToFloor: number | undefined
  rounds: Sample[]
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** Nearest-rank percentile of an already sorted array. */
function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** A growable list of latencies (µs) without boxing. */
class Latencies {
  #data = new Float64Array(1 << 14)
  #length = 0

  push(value: number): void {
    if (this.#length === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2)
      next.set(this.#data)
      this.#data = next
    }
    this.#data[this.#length++] = value
  }

  sorted(): Float64Array {
    return this.#data.slice(0, this.#length).sort()
  }
}

/**
 * Runs `op` back to back for about `durationMs` in one async loop (each call awaited before the
 * next). Per-call latency is timed over batches of `batch` calls and divided, because reading the
 * clock around a sub-microsecond call would cost more than the call; p50/p99 are then over batches.
 * Yields to the event loop every few ms so timers and background work of the library still run.
 */
export async function timeSequential(op: () => unknown, durationMs: number, batch = 64): Promise<Sample> {
  const lat = new Latencies()
  let ops = 0
  const start = performance.now()
  const end = start + durationMs
  let nextYield = start + 5
  let now = start
  while (now < end) {
    const t0 = now
    for (let i = 0; i < batch; i++) await op()
    now = performance.now()
    lat.push(((now - t0) * 1000) / batch)
    ops += batch
    if (now >= nextYield) {
      await yieldToLoop()
      now = performance.now()
      nextYield = now + 5
    }
  }
  return toSample(ops, now - start, lat)
}

/** The same as {@link timeSequential} for a synchronous call, with no `await` at all: the bare floor. */
export async function timeSync(op: () => unknown, durationMs: number, batch = 64): Promise<Sample> {
  const lat = new Latencies()
  let ops = 0
  const start = performance.now()
  const end = start + durationMs
  let nextYield = start + 5
  let now = start
  let sink = 0
  while (now < end) {
    const t0 = now
    for (let i = 0; i < batch; i++) if (op() !== undefined) sink++
    now = performance.now()
    lat.push(((now - t0) * 1000) / batch)
    ops += batch
    if (now >= nextYield) {
      await yieldToLoop()
      now = performance.now()
      nextYield = now + 5
    }
  }
  if (sink < 0) console.log(sink)
  return toSample(ops, now - start, lat)
}

/**
 * Runs `inFlight` loops at once for about `durationMs`, each awaiting its own call before making the
 * next, so exactly `inFlight` calls are outstanding. Each call is timed on its own.
 */
export async function timeConcurrent(
  op: (loop: number, i: number) => Promise<unknown>,
  inFlight: number,
  durationMs: number,
): Promise<Sample> {
  const lat = new Latencies()
  let ops = 0
  const start = performance.now()
  const end = start + durationMs
  const loop = async (index: number): Promise<void> => {
    let i = 0
    for (;;) {
      const t0 = performance.now()
      if (t0 >= end) return
      await op(index, i++)
      lat.push((performance.now() - t0) * 1000)
      ops++
    }
  }
  await Promise.all(Array.from({ length: inFlight }, (_, index) => loop(index)))
  return toSample(ops, performance.now() - start, lat)
}

function toSample(ops: number, elapsedMs: number, lat: Latencies): Sample {
  const sorted = lat.sorted()
  return {
    opsPerSec: (ops / elapsedMs) * 1000,
    p50Us: percentile(sorted, 50),
    p99Us: percentile(sorted, 99),
    ops,
  }
}

/**
 * Runs every contender once per round, `rounds` times, starting each round one contender later
 * (round r runs contenders[r], contenders[r+1], …), after one unrecorded warm-up round.
 */
export async function interleave<C extends Contender>(
  contenders: readonly C[],
  rounds: number,
  measure: (contender: C) => Promise<Sample>,
  onRound?: (round: number) => void,
): Promise<Summary[]> {
  for (const c of contenders) await measure(c)
  const samples = new Map<C, Sample[]>(contenders.map((c) => [c, []]))
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < contenders.length; k++) {
      const c = contenders[(r + k) % contenders.length]!
      samples.get(c)!.push(await measure(c))
    }
    onRound?.(r)
  }
  const floor = contenders.find((c) => c.floor === true)
  const floorSamples = floor === undefined ? undefined : samples.get(floor)!
  return contenders.map((c) => {
    const s = samples.get(c)!
    return {
      name: c.name,
      floor: c.floor === true,
      opsPerSec: median(s.map((x) => x.opsPerSec)),
      p50Us: median(s.map((x) => x.p50Us)),
      p99Us: median(s.map((x) => x.p99Us)),
      ratioToFloor:
        floorSamples === undefined
          ? undefined
          : median(s.map((x, i) => x.opsPerSec / floorSamples[i]!.opsPerSec)),
      rounds: s,
    }
  })
}

// ----- printing ----------------------------------------------------------------------------------

export function formatOps(n: number): string {
  if (!Number.isFinite(n)) return 'n/a'
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`
  return n.toFixed(0)
}

export function formatUs(us: number): string {
  if (!Number.isFinite(us)) return 'n/a'
  if (us >= 10_000) return `${(us / 1000).toFixed(1)} ms`
  if (us >= 1000) return `${(us / 1000).toFixed(2)} ms`
  if (us >= 10) return `${us.toFixed(1)} µs`
  return `${us.toFixed(3)} µs`
}

export function formatRatio(r: number | undefined): string {
  if (r === undefined || !Number.isFinite(r)) return ''
  return r >= 10 ? `${r.toFixed(1)}×` : r >= 0.1 ? `${(r * 100).toFixed(1)}%` : `${(r * 100).toFixed(2)}%`
}

/** Prints an aligned text table: first row is the header. */
export function printTable(title: string, rows: readonly (readonly string[])[]): void {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((row) => (row[col] ?? '').length)))
  const line = (row: readonly string[]): string =>
    row
      .map((cell, col) => (col === 0 ? cell.padEnd(widths[col]!) : cell.padStart(widths[col]!)))
      .join('  ')
      .trimEnd()
  console.log(`\n${title}`)
  console.log(line(rows[0]!))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of rows.slice(1)) console.log(line(row))
}

/** The usual table of a throughput scenario. */
export function printSummaries(title: string, summaries: readonly Summary[], floorLabel = 'vs floor'): void {
  printTable(title, [
    ['', 'ops/s', 'p50', 'p99', floorLabel],
    ...summaries.map((s) => [
      s.name,
      formatOps(s.opsPerSec),
      formatUs(s.p50Us),
      formatUs(s.p99Us),
      s.floor ? '(floor)' : formatRatio(s.ratioToFloor),
    ]),
  ])
}

/** Resolves `promise`, or `{ timedOut: true }` after `ms`; a late rejection is swallowed, never unhandled. */
export async function withCap<T>(
  promise: Promise<T>,
  ms: number,
): Promise<{ timedOut: false; value: T } | { timedOut: true }> {
  let timer: NodeJS.Timeout | undefined
  const cap = new Promise<{ timedOut: true }>((resolve) => {
    timer = setTimeout(() => {
      resolve({ timedOut: true })
    }, ms)
  })
  promise.catch(() => undefined)
  try {
    return await Promise.race([promise.then((value) => ({ timedOut: false, value }) as const), cap])
  } finally {
    clearTimeout(timer)
  }
}

/** What every results file records about the machine a run was measured on. */
export interface MachineInfo {
  date: string
  node: string
  cpu: string
  cores: number
  memoryGiB: number
  os: string
  loadAverage1m: number
}

/** The machine, now: date, Node, CPU, cores, memory, OS and the 1-minute load average. */
export function machineInfo(): MachineInfo {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    os: `${platform()} ${release()}`,
    loadAverage1m: Math.round((loadavg()[0] ?? 0) * 10) / 10,
  }
}

/** The scenarios named on the command line, or all of them when none is. */
export function selectScenarios<K extends string>(
  all: Readonly<Record<K, unknown>>,
  argv: readonly string[] = process.argv.slice(2),
): K[] {
  const asked = argv.filter((a): a is K => a in all)
  return asked.length > 0 ? asked : (Object.keys(all) as K[])
}
