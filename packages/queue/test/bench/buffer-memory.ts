/**
 * Memory while the broker is down: N publishes of ~1 KB against an unreachable broker with the
 * default bounds; prints how many were buffered or refused and the heap growth after a full GC.
 *
 *   pnpm --filter @scalekit/queue exec tsx --expose-gc test/bench/buffer-memory.ts [publishes]
 */
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'

const count = Number(process.argv[2] ?? '50000')
const gc = (globalThis as { gc?: () => void }).gc ?? ((): void => undefined)
const T = defineMessage('bench.memory', z.object({ pad: z.string() }))
const queue = createQueue({ url: 'amqp://127.0.0.1:1', publishTimeout: '10m' })
const pad = 'x'.repeat(1000)
const refused = new Map<string, number>()

gc()
const before = process.memoryUsage()
for (let i = 0; i < count; i++) {
  queue.publish(T, { pad }).catch((error: unknown) => {
    const code = (error as { code?: string }).code ?? 'other'
    refused.set(code, (refused.get(code) ?? 0) + 1)
  })
}
await new Promise((resolve) => setTimeout(resolve, 1_000))
// Buffers are freed by weak callbacks after a collection: collect a few times.
for (let i = 0; i < 3; i++) {
  gc()
  await new Promise((resolve) => setImmediate(resolve))
}
const after = process.memoryUsage()
const mb = (n: number): string => (n / 1_048_576).toFixed(1)
const health = queue.health()
console.log(
  `${count} publishes while the broker is down: buffered ${health.buffered} (${mb(health.bufferedBytes)} MB of payload), ` +
    `refused ${JSON.stringify(Object.fromEntries(refused))}; heap +${mb(after.heapUsed - before.heapUsed)} MB, ` +
    `external (buffers) +${mb(after.external - before.external)} MB`,
)
await queue.close({ timeout: 10 })
