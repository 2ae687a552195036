import { execFileSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { sampleValue } from '../http-client'

const tsc = fileURLToPath(new URL('../../../../node_modules/.bin/tsc', import.meta.url))

interface Fixture {
  metrics: { metrics(): Promise<string> }
  lines: { level: string; fields: Record<string, unknown>; msg: string | undefined }[]
  Orders: {
    new (): {
      place(n: number): number
      fetch(n: number): Promise<number>
      stream(n: number): AsyncGenerator<number>
    }
    create(): { place(n: number): number }
  }
}

// Each fixture is compiled by tsc with its own tsconfig (one with standard decorators, one with
// experimentalDecorators) against the built package, then run.
describe.each(['tc39', 'legacy'])('decorators compiled with the %s tsconfig', (mode) => {
  it('compile, keep `this`, and record metrics and log lines', async () => {
    const dir = fileURLToPath(new URL(`../fixtures/decorators-${mode}/`, import.meta.url))
    execFileSync(tsc, ['-p', `${dir}tsconfig.json`], { stdio: 'pipe' })
    const fixture = (await import(pathToFileURL(`${dir}dist/service.js`).href)) as Fixture
    const orders = new fixture.Orders()
    expect(orders.place(2)).toBe(4)
    expect(() => orders.place(-1)).toThrow('negative')
    expect(await orders.fetch(3)).toBe(6)
    const seen: number[] = []
    for await (const i of orders.stream(3)) seen.push(i)
    expect(seen).toEqual([0, 1, 2])
    expect(fixture.Orders.create().place(1)).toBe(2)

    const text = await fixture.metrics.metrics()
    const count = 'function_call_duration_seconds_count'
    expect(sampleValue(text, count, { function: 'Orders.place', outcome: 'ok' })).toBe(2)
    expect(sampleValue(text, count, { function: 'Orders.place', outcome: 'error' })).toBe(1)
    expect(sampleValue(text, count, { function: 'orders.fetch', outcome: 'ok' })).toBe(1)
    expect(sampleValue(text, count, { function: 'Orders.create', outcome: 'ok' })).toBe(1)
    expect(
      sampleValue(text, 'function_call_errors_total', { function: 'Orders.place', error_code: 'E_NEGATIVE' }),
    ).toBe(1)
    // @logged() logs, @timed() does not.
    const lines: unknown[] = fixture.lines
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      level: 'debug',
      msg: 'Orders.stream completed',
      fields: { function: 'Orders.stream' },
    })
  })
})
