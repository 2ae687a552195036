/**
 * One process of the cross-process stampede: builds one library (L1 + Redis where it has tiers),
 * waits for the parent's "go" so all processes start together, fires `BENCH_CALLERS` concurrent
 * `getOrSet` on one cold key with a factory of `BENCH_FACTORY_MS`, and reports how often the
 * factory ran here.
 */
import { reportResult, waitForGo, workerIndex } from '@scalekit/test-utils/worker'
import { createSubject, type Library } from './subjects'

export interface StampedeWorkerResult {
  factoryCalls: number
  fulfilled: number
  rejected: number
  firstError: string | undefined
  /** Which process's factory produced the value callers here got, per process index. */
  valuesFrom: number[]
}

const env = (name: string): string => {
  const value = process.env[name]
  if (value === undefined) throw new Error(`${name} is not set`)
  return value
}

const library = env('BENCH_LIB') as Library
const callers = Number(env('BENCH_CALLERS'))
const factoryMs = Number(env('BENCH_FACTORY_MS'))
const key = env('BENCH_KEY')
const subject = await createSubject(library, {
  shape: 'tiered',
  prefix: env('BENCH_PREFIX'),
  redisUrl: env('BENCH_REDIS_URL'),
  ttlMs: 600_000,
})
// Open the connection before the start line, so the burst measures coalescing and not connecting.
await subject.getOrSet(`warm:${workerIndex()}`, () => 0)

let factoryCalls = 0
const factory = async (): Promise<unknown> => {
  factoryCalls++
  await new Promise((resolve) => setTimeout(resolve, factoryMs))
  return { from: workerIndex() }
}

await waitForGo()
const settled = await Promise.allSettled(
  Array.from({ length: callers }, () => subject.getOrSet(key, factory)),
)
const valuesFrom = new Set<number>()
let firstError: string | undefined
for (const s of settled) {
  if (s.status === 'fulfilled') valuesFrom.add((s.value as { from: number }).from)
  else firstError ??= String(s.reason)
}
const result: StampedeWorkerResult = {
  factoryCalls,
  fulfilled: settled.filter((s) => s.status === 'fulfilled').length,
  rejected: settled.filter((s) => s.status === 'rejected').length,
  firstError,
  valuesFrom: [...valuesFrom],
}
await reportResult(result)
await subject.close(2_000)
process.exit(0)
