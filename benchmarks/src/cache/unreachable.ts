/**
 * Scenario 4, Redis unreachable: how long a cold-key `getOrSet` with a 10 ms factory takes to answer
 * when Redis does not answer. Two faults, each library configured with both tiers and its defaults:
 *  - partition: connected and working, then the fault proxy blackholes the link (packets vanish,
 *    the TCP connection stays open, as in a network partition);
 *  - refused: the URL points at a port where nothing listens.
 * Each attempt is capped; the libraries of one fault run side by side (the waits are timers, not CPU).
 */
import { performance } from 'node:perf_hooks'
import { freePort, startFaultProxy, type FaultProxy } from '@scalekit/test-utils'
import { printTable, withCap } from '../harness'
import { type BenchContext, sleep } from './context'
import { createSubject, LIBRARIES, type Library, type Subject } from './subjects'

const FACTORY_MS = 10
const OUR_TIMEOUT_MS = 250

export type Fault = 'partition' | 'refused'

export interface UnreachableRow {
  library: Library
  fault: Fault
  setup: string
  /** Time to answer (value or error); undefined when it did not answer within the cap. */
  ms: number | undefined
  outcome: 'value' | 'error' | 'hung' | 'n/a'
  detail: string
  factoryCalls: number
}

export interface UnreachableResult {
  capMs: number
  factoryMs: number
  rows: UnreachableRow[]
  target: { wanted: string; ours: (number | undefined)[]; met: boolean }
}

async function attempt(
  ctx: BenchContext,
  library: Library,
  fault: Fault,
  capMs: number,
): Promise<UnreachableRow> {
  let proxy: FaultProxy | undefined
  let subject: Subject | undefined
  const row: UnreachableRow = {
    library,
    fault,
    setup: '',
    ms: undefined,
    outcome: 'n/a',
    detail: '',
    factoryCalls: 0,
  }
  try {
    let url: string
    if (fault === 'partition') {
      proxy = await startFaultProxy({ target: ctx.redisUrl })
      url = proxy.url(ctx.redisUrl)
    } else {
      url = `redis://127.0.0.1:${await freePort()}`
    }
    subject = await createSubject(library, {
      shape: 'tiered',
      prefix: `${ctx.runId}_down_${fault}_${library}`,
      redisUrl: url,
      ttlMs: 600_000,
    })
    row.setup = subject.setup
    if (proxy !== undefined) {
      // Prove the link works first: the fault starts on a live, connected client.
      const warm = await withCap(
        subject.getOrSet('warm', () => 1),
        5_000,
      )
      if (warm.timedOut) throw new Error('could not warm up through the proxy')
      await sleep(100)
      proxy.blackhole()
    }
    const factory = async (): Promise<unknown> => {
      row.factoryCalls++
      await sleep(FACTORY_MS)
      return { ok: true }
    }
    const started = performance.now()
    try {
      const result = await withCap(subject.getOrSet('cold', factory), capMs)
      if (result.timedOut) {
        row.outcome = 'hung'
        row.detail = `no answer within ${capMs / 1000} s`
      } else {
        row.ms = performance.now() - started
        row.outcome = 'value'
        row.detail = 'answered with the factory value'
      }
    } catch (error) {
      row.ms = performance.now() - started
      row.outcome = 'error'
      row.detail = `rejected: ${(error as Error).message.split('\n')[0]!.slice(0, 100)}`
    }
  } catch (error) {
    row.outcome = 'n/a'
    row.detail = `n/a (${(error as Error).message.split('\n')[0]})`
  } finally {
    await subject?.close(1_000)
    await proxy?.close()
  }
  return row
}

export async function runUnreachable(ctx: BenchContext): Promise<UnreachableResult> {
  const capMs = 15_000
  const rows: UnreachableRow[] = []
  for (const fault of ['partition', 'refused'] as const) {
    rows.push(...(await Promise.all(LIBRARIES.map((library) => attempt(ctx, library, fault, capMs)))))
  }
  const show = (r: UnreachableRow | undefined): string =>
    r === undefined
      ? ''
      : r.outcome === 'hung'
        ? `> ${capMs / 1000} s (hung)`
        : r.outcome === 'n/a'
          ? r.detail
          : `${r.ms!.toFixed(0)} ms${r.outcome === 'error' ? ' (error)' : ''}`
  const find = (library: Library, fault: Fault): UnreachableRow | undefined =>
    rows.find((r) => r.library === library && r.fault === fault)
  printTable(
    `4. Redis unreachable: cold-key getOrSet, factory ${FACTORY_MS} ms, time to answer (cap ${capMs / 1000} s)`,
    [
      [
        '',
        'partition (blackhole)',
        'refused (closed port)',
        'factory ran',
        'what the caller got (partition / refused)',
      ],
      ...LIBRARIES.map((library) => {
        const p = find(library, 'partition')
        const r = find(library, 'refused')
        return [
          library,
          show(p),
          show(r),
          `${p?.factoryCalls ?? 0} / ${r?.factoryCalls ?? 0}`,
          `${p?.detail ?? ''} / ${r?.detail ?? ''}`,
        ]
      }),
    ],
  )
  console.log('   setups: ' + LIBRARIES.map((l) => `${l}: ${find(l, 'partition')?.setup ?? ''}`).join('; '))
  const ours = [find('scalekit', 'partition'), find('scalekit', 'refused')]
  const limit = OUR_TIMEOUT_MS + FACTORY_MS
  // Within the L2 timeout plus the factory's time; 50 ms of slack for timers and the event loop.
  const met = ours.every((r) => r?.outcome === 'value' && r.ms !== undefined && r.ms <= limit + 50)
  const target = {
    wanted: `answers within timeout + factory (${OUR_TIMEOUT_MS} + ${FACTORY_MS} ms, +50 ms slack)`,
    ours: ours.map((r) => r?.ms),
    met,
  }
  console.log(`   target: ${target.wanted}: ours ${ours.map(show).join(' / ')} → ${met ? 'MET' : 'NOT MET'}`)
  return { capMs, factoryMs: FACTORY_MS, rows, target }
}
