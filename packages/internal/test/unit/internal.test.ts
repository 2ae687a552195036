import { describe, expect, it, vi } from 'vitest'
import {
  backoffDelay,
  channelName,
  CloseGate,
  closeTimeout,
  CodedError,
  createChecks,
  createWarner,
  DeadlineSweep,
  defineErrors,
  isPromiseLike,
  MAX_DURATION_MS,
  parseDuration,
  sleep,
  withTimeout,
} from '../../src/index'

class TestError extends CodedError {
  static override readonly code: string = 'ERR_TEST'
}
class TestOptionsError extends TestError {
  static override readonly code: string = 'ERR_TEST_INVALID_OPTIONS'
}

describe('parseDuration', () => {
  it.each([
    [0, 0],
    [1.4, 1],
    ['250ms', 250],
    ['5s', 5000],
    ['1.5m', 90_000],
    ['1h', 3_600_000],
    ['1d', 86_400_000],
    [MAX_DURATION_MS, MAX_DURATION_MS],
  ])('%s is %d ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it.each([
    -1,
    Number.NaN,
    Number.POSITIVE_INFINITY,
    '5',
    '5 s',
    '-5s',
    '5w',
    '',
    's',
    null,
    undefined,
    {},
    MAX_DURATION_MS + 1,
    '25d',
  ])('refuses %s', (input) => {
    expect(parseDuration(input)).toBeUndefined()
  })
})

describe('createChecks', () => {
  const checks = createChecks(TestOptionsError)

  it('resolves durations with fallback and bounds, naming the option and the value when wrong', () => {
    expect(checks.duration('ttl', undefined, '1m')).toBe(60_000)
    expect(checks.duration('ttl', '2s', '1m')).toBe(2000)
    expect(() => checks.duration('ttl', '1w', '1m')).toThrow(TestOptionsError)
    expect(() => checks.duration('ttl', 0, '1m', { above: 0 })).toThrow(
      /ttl must be a duration.*> 0 ms.*got 0/,
    )
    try {
      checks.duration('timeout', 'soon', '1s')
    } catch (error) {
      expect(error).toBeInstanceOf(TestOptionsError)
      expect((error as TestOptionsError).code).toBe('ERR_TEST_INVALID_OPTIONS')
      expect((error as Error).message).toContain('"soon"')
    }
  })

  it('checks whole numbers, numbers, choices, booleans and groups', () => {
    expect(checks.integer('n', undefined, 3, { min: 1 })).toBe(3)
    expect(() => checks.integer('n', 1.5, 3)).toThrow(/n must be a whole number, got 1.5/)
    expect(() => checks.integer('n', 0, 3, { min: 1 })).toThrow(/>= 1/)
    expect(checks.number('ratio', 0.5, 1, { above: 0, max: 1 })).toBe(0.5)
    expect(() => checks.number('ratio', Number.NaN, 1)).toThrow(TestOptionsError)
    expect(checks.number('rate', Number.POSITIVE_INFINITY, 1, { allowInfinity: true })).toBe(
      Number.POSITIVE_INFINITY,
    )
    expect(() => checks.number('rate', Number.POSITIVE_INFINITY, 1)).toThrow(TestOptionsError)
    expect(checks.oneOf('mode', undefined, 'a', ['a', 'b'])).toBe('a')
    expect(() => checks.oneOf('mode', 'c', 'a', ['a', 'b'])).toThrow(/mode must be one of 'a', 'b', got "c"/)
    expect(() => checks.boolean('flag', 'yes', true)).toThrow(TestOptionsError)
    expect(checks.group('breaker', undefined)).toEqual({})
    expect(() => checks.group('breaker', 5 as unknown as object)).toThrow(/breaker must be an object, got 5/)
  })

  it('resolves a backoff and refuses an inverted one', () => {
    const fallback = { initial: 100, factor: 2, max: 1000, jitter: 0.2 }
    expect(checks.backoff('retry', { initial: '1s', max: '1m' }, fallback)).toEqual({
      initial: 1000,
      factor: 2,
      max: 60_000,
      jitter: 0.2,
    })
    expect(() => checks.backoff('retry', { initial: '1m', max: '1s' }, fallback)).toThrow(/retry.max/)
    expect(() => checks.backoff('retry', { jitter: 2 }, fallback)).toThrow(/retry.jitter/)
  })
})

describe('backoffDelay', () => {
  const b = { initial: 100, factor: 2, max: 1000, jitter: 0 }
  it('grows by the factor up to the cap', () => {
    expect([1, 2, 3, 4, 5, 10].map((n) => backoffDelay(b, n))).toEqual([100, 200, 400, 800, 1000, 1000])
  })
  it('takes up to `jitter` of the delay away at random', () => {
    expect(backoffDelay({ ...b, jitter: 1 }, 3, () => 0)).toBe(400)
    expect(backoffDelay({ ...b, jitter: 1 }, 3, () => 0.999)).toBe(0)
    expect(backoffDelay({ ...b, jitter: 0.25 }, 3, () => 1)).toBe(300)
  })
})

describe('errors', () => {
  it('sets name, code and cause from the class', () => {
    const cause = new Error('low level')
    const error = new TestOptionsError('bad', { cause })
    expect(error).toBeInstanceOf(TestError)
    expect(error.name).toBe('TestOptionsError')
    expect(error.code).toBe('ERR_TEST_INVALID_OPTIONS')
    expect(error.cause).toBe(cause)
  })
  it('defineErrors refuses a map keyed by the wrong code or with a foreign class', () => {
    expect(defineErrors({ ERR_TEST: TestError, ERR_TEST_INVALID_OPTIONS: TestOptionsError })).toBeDefined()
    expect(() => defineErrors({ ERR_TEST: TestError, ERR_OTHER: TestOptionsError })).toThrow(
      /ERR_OTHER names TestOptionsError/,
    )
    class Foreign extends CodedError {
      static override readonly code: string = 'ERR_FOREIGN'
    }
    expect(() => defineErrors({ ERR_TEST: TestError, ERR_FOREIGN: Foreign })).toThrow(/does not derive/)
  })
})

describe('channelName', () => {
  it('names scalekit:<package>:<operation>', () => {
    expect(channelName('db-router', 'query')).toBe('scalekit:db-router:query')
  })
})

describe('closeTimeout', () => {
  it('defaults to 10 s and takes a duration', () => {
    expect(closeTimeout(undefined, TestError)).toBe(10_000)
    expect(closeTimeout({}, TestError)).toBe(10_000)
    expect(closeTimeout({ timeout: '2s' }, TestError)).toBe(2000)
    expect(() => closeTimeout({ timeout: 'never' as '1s' }, TestError)).toThrow(TestError)
    expect(() => closeTimeout(5000 as unknown as object, TestError)).toThrow(/close\(\) takes \{ timeout \}/)
  })
})

describe('CloseGate', () => {
  it('runs the shutdown once with the timeout, marks closed, and answers every call with the same promise', async () => {
    const timeouts: number[] = []
    let closedWhileStarting = false
    const gate: CloseGate = new CloseGate(TestError, async (ms) => {
      closedWhileStarting = gate.closed
      timeouts.push(ms)
      await sleep(5)
    })
    expect(gate.closed).toBe(false)
    const first = gate.close({ timeout: '2s' })
    expect(gate.closed).toBe(true)
    const second = gate.close({ timeout: '5s' })
    expect(second).toBe(first)
    await first
    expect(timeouts).toEqual([2000])
    expect(closedWhileStarting).toBe(true)
  })
  it('rejects bad options without closing', async () => {
    const gate = new CloseGate(TestError, () => Promise.resolve())
    await expect(gate.close({ timeout: 'later' as '1s' })).rejects.toBeInstanceOf(TestError)
    expect(gate.closed).toBe(false)
    await gate.close()
    expect(gate.closed).toBe(true)
  })
})

describe('DeadlineSweep', () => {
  it('fires a deadline no earlier than asked, never a cancelled one, and stops when empty', async () => {
    const sweep = new DeadlineSweep()
    const fired: string[] = []
    const start = Date.now()
    let firedAt = 0
    sweep.add(30, () => {
      fired.push('a')
      firedAt = Date.now()
    })
    const b = sweep.add(30, () => fired.push('b'))
    b.cancel()
    expect(sweep.size).toBe(1)
    await sleep(80)
    expect(fired).toEqual(['a'])
    expect(firedAt - start).toBeGreaterThanOrEqual(30)
    expect(sweep.size).toBe(0)
  })

  it('race rejects with the timeout error and observes a late rejection', async () => {
    const sweep = new DeadlineSweep()
    const never = new Promise<number>(() => undefined)
    await expect(sweep.race(never, 20, () => new TestError('late'))).rejects.toThrow('late')
    await expect(sweep.race(Promise.resolve(7), 20, () => new TestError('late'))).resolves.toBe(7)
    const unhandled = vi.fn()
    process.on('unhandledRejection', unhandled)
    const slow = new Promise<number>((_, reject) =>
      setTimeout(() => {
        reject(new Error('after'))
      }, 40),
    )
    await expect(sweep.race(slow, 10, () => new TestError('late'))).rejects.toThrow('late')
    await sleep(60)
    process.off('unhandledRejection', unhandled)
    expect(unhandled).not.toHaveBeenCalled()
  })

  it('serves deadlines of different lengths, sweeping at the shortest one’s pace', async () => {
    const sweep = new DeadlineSweep()
    const order: number[] = []
    sweep.add(2000, () => order.push(2000))
    sweep.add(20, () => order.push(20))
    await sleep(60)
    expect(order).toEqual([20])
    sweep.clear()
    expect(sweep.size).toBe(0)
  })

  it('expireAll calls every pending deadline now, in order, never a cancelled one; cancel after is a no-op', () => {
    const sweep = new DeadlineSweep()
    const fired: string[] = []
    const a = sweep.add(60_000, () => fired.push('a'))
    const b = sweep.add(60_000, () => fired.push('b'))
    sweep.add(60_000, () => {
      fired.push('c')
      // A callback cancelling one not called yet, and adding a new one.
      d.cancel()
      sweep.add(60_000, () => fired.push('e'))
    })
    const d = sweep.add(60_000, () => fired.push('d'))
    b.cancel()
    b.cancel()
    expect(sweep.size).toBe(3)
    sweep.expireAll()
    expect(fired).toEqual(['a', 'c'])
    a.cancel()
    expect(sweep.size).toBe(1)
    sweep.clear()
    expect(sweep.size).toBe(0)
  })

  it('a sweep skips a due deadline that an earlier callback cancelled', async () => {
    const sweep = new DeadlineSweep()
    const fired: string[] = []
    sweep.add(10, () => {
      fired.push('first')
      second.cancel()
    })
    const second = sweep.add(10, () => fired.push('second'))
    await sleep(60)
    expect(fired).toEqual(['first'])
    expect(sweep.size).toBe(0)
  })
})

describe('isPromiseLike', () => {
  it('is true for any thenable (native, of another library, a function with then) and false for values', () => {
    const fnThenable = Object.assign(() => undefined, { then: () => undefined })
    expect(
      [Promise.resolve(1), { then: () => undefined }, fnThenable].map((v: unknown) => isPromiseLike(v)),
    ).toEqual([true, true, true])
    expect(
      [null, undefined, 1, 'then', {}, { then: 1 }, () => undefined].map((v: unknown) => isPromiseLike(v)),
    ).toEqual([false, false, false, false, false, false, false])
  })
})

describe('sleep and withTimeout', () => {
  it('sleep ends at once when the signal aborts', async () => {
    const controller = new AbortController()
    const start = Date.now()
    const slept = sleep(10_000, controller.signal)
    controller.abort()
    await slept
    expect(Date.now() - start).toBeLessThan(5000)
  })
  it('withTimeout rejects with the given error', async () => {
    await expect(
      withTimeout(new Promise(() => undefined), 10, () => new TestError('too slow')),
    ).rejects.toThrow('too slow')
    await expect(withTimeout(Promise.resolve('ok'), 1000, () => new TestError('too slow'))).resolves.toBe(
      'ok',
    )
  })
})

describe('createWarner', () => {
  it('logs an episode once per interval with the count suppressed meanwhile, and again at once after recovery', () => {
    const lines: { obj: object; msg?: string }[] = []
    const logger = { warn: (obj: object, msg?: string) => lines.push({ obj, msg }), info: vi.fn() }
    const now = vi.spyOn(Date, 'now').mockReturnValue(1000)
    const warner = createWarner('cache', logger, 60_000)
    warner.warn('redis-down', { code: 'ERR_X' }, 'Redis is down')
    warner.warn('redis-down', { code: 'ERR_X' }, 'Redis is down')
    warner.warn('redis-down', { code: 'ERR_X' }, 'Redis is down')
    expect(lines).toHaveLength(1)
    now.mockReturnValue(62_000)
    warner.warn('redis-down', { code: 'ERR_X' }, 'Redis is down')
    expect(lines[1]?.obj).toMatchObject({
      package: '@scalekit/cache',
      episode: 'redis-down',
      code: 'ERR_X',
      suppressed: 2,
    })
    warner.recover('redis-down')
    expect(logger.info).toHaveBeenCalledTimes(1)
    warner.warn('redis-down', {}, 'Redis is down')
    expect(lines).toHaveLength(3)
    now.mockRestore()
  })
  it('defaults to process warnings', () => {
    const seen = vi.fn()
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation(seen)
    createWarner('queue', undefined).warn(
      'broker-down',
      { code: 'ERR_QUEUE_DISCONNECTED' },
      'broker unreachable',
    )
    expect(seen).toHaveBeenCalledWith('broker unreachable', {
      type: 'ScalekitWarning(queue)',
      code: 'ERR_QUEUE_DISCONNECTED',
    })
    spy.mockRestore()
  })
})
