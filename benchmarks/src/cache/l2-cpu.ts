/**
 * CPU per L2-hit `getOrSet` (L1 off, 50 in flight, 100 warm keys) of two builds of @scalekit/cache,
 * run in ABBA chunks of 20 000 calls in one process: the client CPU per call (this process, user +
 * system, GC threads included) is steadier than ops/s on a busy machine, and neighbours in time
 * share the same load.
 *
 *   tsx src/cache/l2-cpu.ts /abs/a/dist/index.js /abs/b/dist/index.js [pairs = 6]
 *
 * Prints the median CPU µs per call and ops/s of each, and the median of the A/B ratios of the chunks.
 */
import { createContext, userValue } from './context'

interface CacheBuild {
  createCache(options: { namespace: string; l1: false; redis: string; ttl: number }): {
    getOrSet(key: string, factory: () => unknown): Promise<unknown>
    clear(): Promise<void>
    close(): Promise<void>
  }
}

const [pathA, pathB, pairsArg] = process.argv.slice(2)
if (pathA === undefined || pathB === undefined)
  throw new Error('usage: tsx src/cache/l2-cpu.ts <a/index.js> <b/index.js> [pairs]')
const ctx = createContext()
const builds = (await Promise.all([import(pathA), import(pathB)])) as [CacheBuild, CacheBuild]
const caches = builds.map((build, i) =>
  build.createCache({ namespace: `${ctx.runId}_cpu_${i}`, l1: false, redis: ctx.redisUrl, ttl: 600_000 }),
)
const value = userValue(1)
const KEYS = 100
const CHUNK = 20_000

async function chunk(cache: (typeof caches)[number]): Promise<{ cpuUs: number; opsPerSec: number }> {
  let next = 0
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: 50 }, async (_, loop) => {
      while (next < CHUNK) {
        const i = next++
        await cache.getOrSet(`k${(loop * 7 + i) % KEYS}`, () => value)
      }
    }),
  )
  const cpu = process.cpuUsage(cpu0)
  return { cpuUs: (cpu.user + cpu.system) / CHUNK, opsPerSec: (CHUNK / (performance.now() - t0)) * 1000 }
}

const median = (xs: readonly number[]): number =>
  [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] ?? Number.NaN
for (const cache of caches) for (let i = 0; i < KEYS; i++) await cache.getOrSet(`k${i}`, () => value)
for (const cache of caches) await chunk(cache) // warm-up
const results: { cpuUs: number; opsPerSec: number }[][] = [[], []]
const pairs = Number(pairsArg ?? '6')
for (let r = 0; r < pairs; r++) {
  for (const which of r % 2 === 0 ? [0, 1, 1, 0] : [1, 0, 0, 1]) {
    const cache = caches[which]
    if (cache !== undefined) results[which]?.push(await chunk(cache))
  }
}
const [a = [], b = []] = results
for (const [name, rows] of [
  [pathA, a],
  [pathB, b],
] as const) {
  console.log(
    `${name}: ${median(rows.map((x) => x.cpuUs)).toFixed(2)} µs CPU per call, ${Math.round(median(rows.map((x) => x.opsPerSec)))} ops/s (medians)`,
  )
}
const ratios = a.map((x, i) => x.cpuUs / (b[i]?.cpuUs ?? Number.NaN))
console.log(
  `A/B CPU per call: median ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)} over ${ratios.length} chunks)`,
)
for (const cache of caches) {
  await cache.clear()
  await cache.close()
}
process.exit(0)
