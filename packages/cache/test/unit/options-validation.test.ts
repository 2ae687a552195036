// Issue 12 (defect 20) and issue 13 (item 7): every option is checked for type and range at
// construction, and every per-call option at the call's entry, each with a coded error naming it —
// never a raw TypeError, never accepted and failing at first use.
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CacheArgumentError,
  type CacheOptions,
  CacheOptionsError,
  createCache,
  type GetOrSetOptions,
} from '../../src/index'

/** The error `fn` throws (or undefined), for assertions on its class and message. */
function thrownBy(fn: () => unknown): unknown {
  try {
    fn()
  } catch (error) {
    return error
  }
  return undefined
}

/** Options as a careless caller writes them: the compiler is not there to help (JavaScript, `any`, JSON config). */
function create(options: unknown): ReturnType<typeof createCache> {
  return createCache(options as CacheOptions)
}

describe('createCache refuses bad options at construction, naming them', () => {
  const cases: [string, unknown, RegExp][] = [
    ['null', null, /createCache options must be an object, got null/],
    ['a string', 'shop', /createCache options must be an object/],
    ['encryption: {}', { namespace: 'x', encryption: {} }, /encryption\.keys must be a non-empty array/],
    ['encryption: { keys: [] }', { namespace: 'x', encryption: { keys: [] } }, /encryption\.keys/],
    [
      'encryption: { keys: [null] }',
      { namespace: 'x', encryption: { keys: [null] } },
      /encryption\.keys\[0\]/,
    ],
    [
      'encryption: { keys: [{ id: "a", key: 42 }] }',
      { namespace: 'x', encryption: { keys: [{ id: 'a', key: 42 }] } },
      /encryption\.keys\[0\]\.key/,
    ],
    ['encryption: "secret"', { namespace: 'x', encryption: 'secret' }, /encryption must be an object/],
    ['codec: {}', { namespace: 'x', codec: {} }, /codec\.name/],
    ['codec without decode', { namespace: 'x', codec: { name: 'c', encode: String } }, /codec\.decode/],
    ['codec: "json"', { namespace: 'x', codec: 'json' }, /codec must be an object/],
    ['bus: "no"', { namespace: 'x', bus: 'no' }, /bus must be true or false, got "no"/],
    ['ttL (a typo)', { namespace: 'x', ttL: 5000 }, /ttL is not an option \(did you mean ttl\?\)/],
    ['l1.maxentries (a typo)', { namespace: 'x', l1: { maxentries: 5 } }, /l1\.maxentries is not an option/],
    ['breaker.timeout', { namespace: 'x', breaker: { timeout: 5 } }, /breaker\.timeout is not an option/],
    ['logger: true', { namespace: 'x', logger: true }, /logger must be an object/],
    ['logger: {}', { namespace: 'x', logger: {} }, /logger must have a warn/],
    ['logger.info: 1', { namespace: 'x', logger: { warn() {}, info: 1 } }, /logger\.info must be a function/],
    ['ttl: "720h"', { namespace: 'x', ttl: '720h' }, /ttl must be a duration/],
    ['timeout: 3e9', { namespace: 'x', timeout: 3e9 }, /timeout must be a duration/],
  ]
  it.each(cases)('%s', (_name, options, message) => {
    const error = thrownBy(() => create(options))
    expect(error).toBeInstanceOf(CacheOptionsError)
    expect((error as CacheOptionsError).code).toBe('ERR_CACHE_INVALID_OPTIONS')
    expect((error as Error).message).toMatch(message)
  })

  it('accepts every option spelled right, and console as the logger', async () => {
    const cache = create({
      namespace: 'ok',
      l1: { maxEntries: 10, maxBytes: 1_000_000 },
      ttl: '1m',
      grace: 0,
      negativeTtl: '5s',
      jitter: 0.1,
      timeout: '250ms',
      lockLease: '5s',
      earlyRefreshBeta: 1,
      maxValueBytes: 1024,
      bus: false,
      breaker: { errorThresholdPercentage: 50, resetTimeout: '2s', volumeThreshold: 5 },
      tagRetention: '1d',
      logger: console,
      encryption: {
        keys: [
          {
            id: 'k1',
            key: randomBytes(32).toString('hex'),
          },
        ],
      },
    })
    await cache.close()
  })
})

describe('per-call options are checked at the call, naming them', () => {
  const cache = createCache({ namespace: 'calls' })
  const cases: [string, (options: unknown) => Promise<unknown>, unknown, RegExp][] = [
    [
      'set ttl: 1e20',
      (o) => cache.set('k', 1, o as GetOrSetOptions),
      { ttl: 1e20 },
      /options\.ttl must be a duration/,
    ],
    [
      'set ttL',
      (o) => cache.set('k', 1, o as GetOrSetOptions),
      { ttL: 5 },
      /options\.ttL is not an option \(did you mean ttl\?\)/,
    ],
    [
      'set softTimeout (getOrSet only)',
      (o) => cache.set('k', 1, o as GetOrSetOptions),
      { softTimeout: 5 },
      /options\.softTimeout is not an option/,
    ],
    ['set options: null', (o) => cache.set('k', 1, o as GetOrSetOptions), null, /options must be an object/],
    [
      'set tags: "a"',
      (o) => cache.set('k', 1, o as GetOrSetOptions),
      { tags: 'a' },
      /options\.tags must be an array/,
    ],
    ['set tags: [""]', (o) => cache.set('k', 1, o as GetOrSetOptions), { tags: [''] }, /options\.tags\[0\]/],
    [
      'set tags: a long one',
      (o) => cache.set('k', 1, o as GetOrSetOptions),
      { tags: ['t'.repeat(1025)] },
      /options\.tags\[0\]/,
    ],
    [
      'set tags: too many',
      (o) => cache.set('k', 1, o as GetOrSetOptions),
      { tags: Array.from({ length: 1025 }, (_, i) => `t${i}`) },
      /at most 1024 tags/,
    ],
    [
      'getOrSet hardTimeout: -1',
      (o) => cache.getOrSet('k', () => 1, o as GetOrSetOptions),
      { hardTimeout: -1 },
      /options\.hardTimeout/,
    ],
    [
      'getOrSet grace: "forever"',
      (o) => cache.getOrSet('k', () => 1, o as GetOrSetOptions),
      { grace: 'forever' },
      /options\.grace/,
    ],
    [
      'writeThrough negativeTtl',
      (o) => cache.writeThrough('k', 1, () => undefined, o as GetOrSetOptions),
      { negativeTtl: 5 },
      /options\.negativeTtl is not an option/,
    ],
    ['invalidateTags("a")', (o) => cache.invalidateTags(o as string[]), 'a', /tags must be an array/],
    ['invalidateTags([1])', (o) => cache.invalidateTags(o as string[]), [1], /tags\[0\]/],
  ]
  it.each(cases)('%s', async (_name, call, options, message) => {
    const error = await call(options).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(CacheArgumentError)
    expect((error as Error).message).toMatch(message)
  })
})

/** Values of every type and range a careless caller (or a config file) can hand over. */
const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(undefined, null, true, false, 0, -1, 1, 0.5, Number.NaN, Infinity, -Infinity, 1e20, -0),
  fc.constantFrom(2 ** 31 - 2, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 3e9, Number.MAX_SAFE_INTEGER),
  fc.constantFrom(
    '',
    '0',
    '1',
    '250ms',
    '5s',
    '1m',
    '24d',
    '25d',
    '596h',
    '720h',
    '1.5m',
    '-1s',
    'no',
    'true',
  ),
  fc.integer({ min: -1000, max: 2 ** 32 }),
  fc.double(),
  fc.string(),
  fc.constantFrom({}, [], [1], ['a'], { keys: [] }, () => 1, Symbol('s'), 10n, new Date(0)),
)

const OPTION_NAMES = [
  'namespace',
  'l1',
  'ttl',
  'grace',
  'negativeTtl',
  'jitter',
  'timeout',
  'lockLease',
  'earlyRefreshBeta',
  'maxValueBytes',
  'codec',
  'encryption',
  'bus',
  'breaker',
  'tagRetention',
  'logger',
  'ttL',
] as const

describe('property: any option value either works or throws CacheOptionsError', () => {
  it('over every option, nested groups included', async () => {
    const nested = fc.oneof(
      fc.record({ maxEntries: anyValue, maxBytes: anyValue }, { requiredKeys: [] }),
      fc.record(
        { errorThresholdPercentage: anyValue, resetTimeout: anyValue, volumeThreshold: anyValue },
        { requiredKeys: [] },
      ),
    )
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...OPTION_NAMES), fc.oneof(anyValue, nested), async (name, value) => {
        const options = name === 'namespace' ? { namespace: value } : { namespace: 'prop', [name]: value }
        let cache
        try {
          cache = create(options)
        } catch (error) {
          expect(error, `${name}: ${String(error)}`).toBeInstanceOf(CacheOptionsError)
          return
        }
        await cache.getOrSet('k', () => 1)
        await cache.close()
      }),
      { numRuns: 1500 },
    )
  })

  it('over per-call options of set, getOrSet and writeThrough: works or CacheArgumentError', async () => {
    const cache = createCache({ namespace: 'prop-calls', ttl: '1s', tagRetention: '1d' })
    const callOptions = fc.oneof(
      anyValue,
      fc.record(
        {
          ttl: anyValue,
          grace: anyValue,
          tags: fc.oneof(anyValue, fc.array(fc.oneof(fc.string(), anyValue), { maxLength: 5 })),
          softTimeout: anyValue,
          hardTimeout: anyValue,
          negativeTtl: anyValue,
        },
        { requiredKeys: [] },
      ),
    )
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('set', 'getOrSet', 'writeThrough'),
        callOptions,
        async (method, options) => {
          const o = options as GetOrSetOptions
          const call =
            method === 'set'
              ? cache.set('k', 1, o)
              : method === 'getOrSet'
                ? cache.getOrSet('k', () => 1, o)
                : cache.writeThrough('k', 1, () => undefined, o)
          await call.then(
            () => undefined,
            (error: unknown) => {
              expect(error, `${method}: ${String(error)}`).toBeInstanceOf(CacheArgumentError)
            },
          )
        },
      ),
      { numRuns: 1500 },
    )
    await cache.close()
  })
})
