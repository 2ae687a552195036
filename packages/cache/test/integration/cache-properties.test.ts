import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import { sharedRedis } from './support'
import { type Cache, CacheError, type CacheOptions, createCache } from '../../src/index'

const namespace = uniqueName('props')
const { cleanup } = sharedRedis(namespace)
afterAll(cleanup)

const encryption = { keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }] }
const MAX_VALUE_BYTES = 8192
/** The codes caller input may earn; anything else (a raw TypeError above all) fails the property. */
const CALLER_CODES = new Set(['ERR_CACHE_INVALID_ARGUMENT', 'ERR_CACHE_ENCODE', 'ERR_CACHE_VALUE_TOO_LARGE'])

const LONE = /\p{Cs}/u
const validKey = (key: string): boolean => key.length > 0 && key.length <= 1024 && !LONE.test(key)

/** Any UTF-16 code unit, lone surrogates included, and near-collisions of one another. */
const char = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.constantFrom('\ud800', '\udbff', '\udc00', '\ufffd', '}', '{', ':', '|', '*', '\n', '\u0000'),
)
const key = fc.oneof(
  fc.string({ unit: char, maxLength: 12 }),
  fc.constantFrom('x', 'x\ud800', 'x\udbff', 'x\ufffd', 'X', 'x ', 'x}', 'x}:lock', 'wb:q}:stream', ''),
  fc.string({ unit: 'binary', minLength: 1020, maxLength: 1030 }),
)
const leaf = fc.oneof(
  fc.string({ unit: char }),
  fc.bigInt({ min: -(10n ** 5000n), max: 10n ** 5000n }),
  fc.bigInt(),
  fc.date(),
  fc.constantFrom(undefined, null, Number.NaN, -0, Number.POSITIVE_INFINITY),
  fc.string({ minLength: 7000, maxLength: 9000 }),
)
const plain = fc.anything({
  key: fc.string({ unit: char }).filter((k) => k !== 'constructor'),
  values: [leaf],
  maxDepth: 3,
  withMap: true,
  withSet: true,
  withBigInt: true,
  withDate: true,
  withNullPrototype: true,
  withSparseArray: false,
})
/** Payloads: the supported types nested, sizes past maxValueBytes, and now and then a cycle. */
const payload = fc.oneof(
  { weight: 5, arbitrary: plain },
  {
    weight: 1,
    arbitrary: plain.map((inner) => {
      const cyclic: Record<string, unknown> = { inner }
      cyclic.self = { back: cyclic }
      return cyclic
    }),
  },
)
const writes = fc.array(fc.tuple(key, payload), { minLength: 1, maxLength: 6 })

function codeOf(error: unknown): string {
  // A raw TypeError (or anything not coded) fails here, with what it was.
  expect(error).toBeInstanceOf(CacheError)
  return (error as CacheError).code
}

async function outcome(
  run: () => Promise<unknown>,
): Promise<{ ok: true; value: unknown } | { ok: false; code: string }> {
  try {
    return { ok: true, value: await run() }
  } catch (error) {
    return { ok: false, code: codeOf(error) }
  }
}

async function check(base: Partial<CacheOptions>, run: number): Promise<void> {
  const ns = `${namespace}_${run}`
  const options = { namespace: ns, redis: serviceUrls.redis, maxValueBytes: MAX_VALUE_BYTES, ...base }
  // `withL1` keeps what it wrote in L1; `l2` reads Redis only: both must answer alike.
  const withL1: Cache = createCache(options)
  const l2: Cache = createCache({ ...options, l1: false })
  try {
    await fc.assert(
      fc.asyncProperty(writes, async (list) => {
        await withL1.clear()
        const model = new Map<string, unknown>()
        for (const [k, value] of list) {
          const set = await outcome(() => withL1.set(k, value))
          if (!validKey(k)) {
            expect(set).toEqual({ ok: false, code: 'ERR_CACHE_INVALID_ARGUMENT' })
            expect(await outcome(() => l2.get(k))).toEqual({ ok: false, code: 'ERR_CACHE_INVALID_ARGUMENT' })
            continue
          }
          if (set.ok) model.set(k, value)
          else {
            expect(CALLER_CODES.has(set.code)).toBe(true)
            // A refused write leaves nothing behind: L1 dropped it, Redis never got it.
            model.delete(k)
            await withL1.delete(k)
          }
        }
        for (const [k, value] of model) {
          expect(await withL1.get(k)).toStrictEqual(value)
          expect(await l2.get(k)).toStrictEqual(value)
          expect(await l2.getOrSet(k, () => 'never called')).toStrictEqual(value)
        }
        expect(withL1.health().l2?.breaker).toBe('closed')
      }),
      { numRuns: 40, endOnFailure: true },
    )
  } finally {
    await Promise.all([withL1.close(), l2.close()])
  }
}

describe('keys and payloads from anywhere (issue 12, the class of defects 9, 10 and 20)', () => {
  it('round-trip through L1 and Redis alike, or are refused with a caller code, never crossing keys', async () => {
    await check({}, 0)
  }, 120_000)

  it('the same with encryption', async () => {
    await check({ encryption }, 1)
  }, 120_000)
})
