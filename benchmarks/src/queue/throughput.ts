/**
 * Throughput: publish with confirms (each contender keeps publishing for a fixed time), end to
 * end (a no-op consumer attached, N messages published with confirms, timed until the last one is
 * handled), and draining a backlog (the consumer side alone). Rounds interleave the contenders in a rotating order; figures are medians of rounds.
 */
import { performance } from 'node:perf_hooks'
import { interleave, median, printSummaries, withCap } from '../harness'
import type { Summary } from '../harness'
import type { QueueBenchContext } from './context'
import type { QueueSubject } from './subjects'

export interface Target {
  wanted: string
  met: boolean
  value?: number
}

/**
 * Client CPU per message of each contender (this process, user + system), one value per measured
 * round: steadier than msg/s on a busy machine. The first value, from the warm-up round, is left
 * out of the median.
 */
class CpuPerMessage {
  readonly #values = new Map<string, number[]>()

  add(name: string, used: NodeJS.CpuUsage, messages: number): void {
    const values = this.#values.get(name) ?? []
    values.push((used.user + used.system) / Math.max(1, messages))
    this.#values.set(name, values)
  }

  /** Prints the medians under `label` and returns them (µs, one decimal). */
  report(label: string): Record<string, number> {
    const medians = Object.fromEntries(
      [...this.#values].map(([name, values]) => [name, Math.round(median(values.slice(1)) * 10) / 10]),
    )
    console.log(
      `${label} (median µs): ${Object.entries(medians)
        .map(([n, v]) => `${n} ${v}`)
        .join(', ')}`,
    )
    return medians
  }
}

function strip(summaries: Summary[]): Summary[] {
  return summaries.map((s) => ({
    ...s,
    rounds: s.rounds.map((r) => ({ ...r, opsPerSec: Math.round(r.opsPerSec) })),
  }))
}

export async function runPublish(
  ctx: QueueBenchContext,
  subjects: readonly QueueSubject[],
): Promise<{ summaries: Summary[]; clientCpuUsPerMessage: Record<string, number>; targets: Target[] }> {
  const durationMs = ctx.quick ? 300 : 1_000
  const rounds = ctx.quick ? 2 : 5
  const cpu = new CpuPerMessage()
  const summaries = await interleave(subjects, rounds, async (s) => {
    await s.purge()
    const before = process.cpuUsage()
    const sample = await s.publish({ durationMs })
    cpu.add(s.name, process.cpuUsage(before), sample.ops)
    await s.purge()
    return sample
  })
  printSummaries(
    `Publish with confirms, ~80-byte JSON to a quorum queue (${rounds} rounds of ${durationMs} ms; p50/p99: publish to confirm)`,
    summaries,
  )
  const cpuUs = cpu.report('client CPU per message')
  const ours = summaries.find((s) => s.name === '@scalekit/queue')
  const ratio = ours?.ratioToFloor ?? 0
  return {
    summaries: strip(summaries),
    clientCpuUsPerMessage: cpuUs,
    targets: [
      {
        wanted: 'publish with confirms ≥ 1.2× the floor (raw amqplib, window 256)',
        met: ratio >= 1.2,
        value: ratio,
      },
    ],
  }
}

export async function runEndToEnd(
  ctx: QueueBenchContext,
  subjects: readonly QueueSubject[],
): Promise<{ summaries: Summary[]; targets: Target[] }> {
  const durationMs = ctx.quick ? 300 : 1_000
  const rounds = ctx.quick ? 2 : 5
  const summaries = await interleave(subjects, rounds, async (s) => {
    await s.purge()
    let handled = 0
    let wanted = Infinity
    let allHandled!: () => void
    const done = new Promise<void>((resolve) => (allHandled = resolve))
    const stop = await s.consume(() => {
      handled++
      if (handled >= wanted) allHandled()
    })
    const started = performance.now()
    const published = await s.publish({ durationMs })
    wanted = published.ops
    if (handled >= wanted) allHandled()
    const capped = await withCap(done, 15_000)
    const elapsed = performance.now() - started
    await stop()
    await s.purge()
    if (capped.timedOut)
      console.log(`  ${s.name}: only ${handled} of ${wanted} confirmed messages handled within 15 s`)
    return {
      opsPerSec: (handled / elapsed) * 1000,
      p50Us: published.p50Us,
      p99Us: published.p99Us,
      ops: handled,
    }
  })
  printSummaries(
    `End to end: a no-op consumer (prefetch 256) attached, publishing with confirms for ${durationMs} ms, timed until every confirmed message is handled (${rounds} rounds; p50/p99: publish to confirm)`,
    summaries,
  )
  const ours = summaries.find((s) => s.name === '@scalekit/queue')
  const ratio = ours?.ratioToFloor ?? 0
  return {
    summaries: strip(summaries),
    targets: [
      { wanted: 'end-to-end throughput with a no-op consumer ≥ the floor', met: ratio >= 1, value: ratio },
    ],
  }
}

/**
 * Draining a backlog: N messages published first (by the contender itself, with confirms), then a
 * no-op consumer attached and timed until the last is handled. The consumer side alone, with the
 * client CPU it spends per message.
 */
export async function runDrain(
  ctx: QueueBenchContext,
  subjects: readonly QueueSubject[],
): Promise<{ summaries: Summary[]; clientCpuUsPerMessage: Record<string, number> }> {
  const count = ctx.quick ? 5_000 : 30_000
  const rounds = ctx.quick ? 2 : 5
  const cpu = new CpuPerMessage()
  const summaries = await interleave(subjects, rounds, async (s) => {
    await s.purge()
    await s.publish({ count })
    let handled = 0
    let allHandled!: () => void
    const done = new Promise<void>((resolve) => (allHandled = resolve))
    const started = performance.now()
    const before = process.cpuUsage()
    const stop = await s.consume(() => {
      handled++
      if (handled === count) allHandled()
    })
    const capped = await withCap(done, 30_000)
    const elapsed = performance.now() - started
    const used = process.cpuUsage(before)
    await stop()
    await s.purge()
    if (capped.timedOut) console.log(`  ${s.name}: only ${handled} of ${count} handled within 30 s`)
    cpu.add(s.name, used, handled)
    return { opsPerSec: (handled / elapsed) * 1000, p50Us: Number.NaN, p99Us: Number.NaN, ops: handled }
  })
  printSummaries(
    `Draining a backlog of ${count} messages with a no-op consumer (prefetch 256), from attach to the last one handled (${rounds} rounds)`,
    summaries,
  )
  return { summaries: strip(summaries), clientCpuUsPerMessage: cpu.report('client CPU per consumed message') }
}
