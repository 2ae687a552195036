import { describe, expect, it } from 'vitest'
import { createInstrumentation, createMetrics, instrument } from '../../src/index'
import { sampleValue } from '../http-client'

const COUNT = 'function_call_duration_seconds_count'

function setup() {
  const metrics = createMetrics({ defaultMetrics: false })
  const lines: { level: string; fields: Record<string, unknown>; msg?: string }[] = []
  const logger = {
    warn: (fields: object, msg?: string) =>
      lines.push({ level: 'warn', fields: fields as Record<string, unknown>, msg }),
    error: (fields: object, msg?: string) =>
      lines.push({ level: 'error', fields: fields as Record<string, unknown>, msg }),
  }
  return { metrics, lines, logger, ...createInstrumentation({ metrics, logger }) }
}

describe('instrument()', () => {
  it('times a sync function and keeps its result and this', async () => {
    const { metrics, instrument } = setup()
    const counter = {
      n: 1,
      add: instrument(
        function (this: { n: number }, by: number) {
          return (this.n += by)
        },
        { name: 'add' },
      ),
    }
    expect(counter.add(2)).toBe(3)
    const text = await metrics.metrics()
    expect(sampleValue(text, COUNT, { function: 'add', outcome: 'ok' })).toBe(1)
    expect(sampleValue(text, 'function_calls_active', { function: 'add' })).toBe(0)
  })

  it('counts a throw by error code, logs it once, and rethrows the same error', async () => {
    const { metrics, instrument, lines } = setup()
    const error = Object.assign(new Error('card declined'), { code: 'E_DECLINED' })
    const charge = instrument(
      (): number => {
        throw error
      },
      { name: 'charge' },
    )
    expect(() => charge()).toThrow(error)
    const text = await metrics.metrics()
    expect(sampleValue(text, COUNT, { function: 'charge', outcome: 'error' })).toBe(1)
    expect(
      sampleValue(text, 'function_call_errors_total', { function: 'charge', error_code: 'E_DECLINED' }),
    ).toBe(1)
    expect(lines).toEqual([
      {
        level: 'error',
        msg: 'charge failed',
        fields: expect.objectContaining({ function: 'charge', code: 'E_DECLINED', err: error }) as unknown,
      },
    ])
  })

  it('times an async function until it settles, with the in-flight gauge up meanwhile', async () => {
    const { metrics, instrument } = setup()
    let release: (value: string) => void = () => undefined
    const slow = instrument(() => new Promise<string>((resolve) => (release = resolve)), { name: 'slow' })
    const pending = slow()
    expect(sampleValue(await metrics.metrics(), 'function_calls_active', { function: 'slow' })).toBe(1)
    release('done')
    expect(await pending).toBe('done')
    const text = await metrics.metrics()
    expect(sampleValue(text, 'function_calls_active', { function: 'slow' })).toBe(0)
    expect(sampleValue(text, COUNT, { function: 'slow', outcome: 'ok' })).toBe(1)
    const rejects = instrument(async () => Promise.reject(new TypeError('bad')), { name: 'rejects' })
    await expect(rejects()).rejects.toThrow('bad')
    expect(
      sampleValue(await metrics.metrics(), 'function_call_errors_total', {
        function: 'rejects',
        error_code: 'TypeError',
      }),
    ).toBe(1)
  })

  it('times a generator from the call to completion, and one returned early', async () => {
    const { metrics, instrument } = setup()
    const numbers = instrument(
      function* (n: number) {
        for (let i = 0; i < n; i++) yield i
        return 'end'
      },
      { name: 'numbers' },
    )
    expect([...numbers(3)]).toEqual([0, 1, 2])
    expect(sampleValue(await metrics.metrics(), COUNT, { function: 'numbers' })).toBe(1)
    const it = numbers(10)
    it.next()
    expect(sampleValue(await metrics.metrics(), 'function_calls_active', { function: 'numbers' })).toBe(1)
    it.return('early')
    expect(sampleValue(await metrics.metrics(), COUNT, { function: 'numbers', outcome: 'ok' })).toBe(2)
  })

  it('times an async generator and counts one that throws midway', async () => {
    const { metrics, instrument } = setup()
    const rows = instrument(
      async function* (fail: boolean) {
        yield 1
        await Promise.resolve()
        if (fail) throw Object.assign(new Error('cursor lost'), { code: 'E_CURSOR' })
        yield 2
      },
      { name: 'rows' },
    )
    const seen: number[] = []
    for await (const row of rows(false)) seen.push(row)
    expect(seen).toEqual([1, 2])
    await expect(async () => {
      for await (const row of rows(true)) seen.push(row)
    }).rejects.toThrow('cursor lost')
    const text = await metrics.metrics()
    expect(sampleValue(text, COUNT, { function: 'rows', outcome: 'ok' })).toBe(1)
    expect(
      sampleValue(text, 'function_call_errors_total', { function: 'rows', error_code: 'E_CURSOR' }),
    ).toBe(1)
  })

  it('works without metrics (log only) and refuses a missing name with a coded error', () => {
    const lines: object[] = []
    const f = instrument(() => 1, { name: 'one', logger: { warn: (o) => lines.push(o) } })
    expect(f()).toBe(1)
    expect(() => instrument(() => 1, {} as { name: string })).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_ARGUMENT' }),
    )
  })
})
