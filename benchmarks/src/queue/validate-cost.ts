/**
 * The publish's encode-and-validate step alone (no broker), for instruction counts under
 * callgrind: `JSON.stringify` of the benchmark's payload, then the schema's validation of either
 * `JSON.parse` of that text (`parse`, the package before the plain-JSON walk) or the payload itself
 * once `isPlainJson` proved JSON gives it back unchanged (`walk`, the package now).
 *
 *   valgrind --tool=callgrind --smc-check=all node --import tsx src/queue/validate-cost.ts walk 20000
 *
 * Run it with two counts and divide the difference in instructions by the difference in counts:
 * the start-up cancels out. Without valgrind it prints ns per step.
 */
import { z } from 'zod'
import { isPlainJson } from '../../../packages/queue/src/payload'
import { payload } from './context'

const mode = process.argv[2]
const count = Number(process.argv[3] ?? 1_000_000)
if (mode !== 'parse' && mode !== 'walk') throw new Error('usage: validate-cost.ts parse|walk [count]')
const schema = z.object({ i: z.number(), text: z.string() })
const validate = schema['~standard'].validate

let failures = 0
const step = (i: number): void => {
  const value = payload(i)
  const text = JSON.stringify(value)
  const decoded: unknown = mode === 'walk' && isPlainJson(value) ? value : JSON.parse(text)
  const result = validate(decoded)
  if (result instanceof Promise || result.issues !== undefined) failures += 1
}
const started = process.hrtime.bigint()
for (let i = 0; i < count; i++) step(i)
const ns = Number(process.hrtime.bigint() - started) / Math.max(1, count)
console.log(`${mode}: ${count} steps, ${ns.toFixed(0)} ns per step, ${failures} failures`)
