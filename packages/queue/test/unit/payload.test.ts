import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'
import { isPlainJson } from '../../src/payload'

/**
 * `publish` validates a payload as it is (no `JSON.parse` of its text) only when `isPlainJson`
 * proves the consumer will decode the same value; everything else is validated as parsed JSON.
 */
describe('isPlainJson: a payload JSON gives back unchanged', () => {
  it('property: whenever it says yes, JSON.parse(JSON.stringify(v)) is v (prototypes, -0, key order, holes)', () => {
    const value = fc.anything({
      withBigInt: false,
      withDate: true,
      withMap: true,
      withSet: true,
      withTypedArray: true,
      withSparseArray: true,
      withNullPrototype: true,
      withBoxedValues: true,
      withObjectString: true,
      stringUnit: 'binary',
      maxDepth: 4,
    })
    let plain = 0
    fc.assert(
      fc.property(value, (v) => {
        const text = JSON.stringify(v) as string | undefined
        if (text === undefined || !isPlainJson(v)) return
        plain += 1
        const back: unknown = JSON.parse(text)
        expect(isDeepStrictEqual(back, v)).toBe(true)
        // Same key order too (a validator's issues and a transform's output follow it).
        expect(JSON.stringify(back)).toBe(text)
      }),
      { numRuns: 2_000 },
    )
    // The property is not vacuous: plenty of generated values are plain.
    expect(plain).toBeGreaterThan(100)
  })

  it.each([
    ['a Date', { at: new Date(0) }],
    ['a Set', { tags: new Set(['a']) }],
    ['a Map', new Map([['a', 1]])],
    [
      'a class instance',
      new (class Point {
        x = 1
      })(),
    ],
    ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1 })],
    ['an undefined field', { a: 1, b: undefined }],
    ['a function field', { a: 1, f: () => 1 }],
    ['a symbol field', { a: 1, s: Symbol('s') }],
    ['NaN', { n: Number.NaN }],
    ['Infinity', [Number.POSITIVE_INFINITY]],
    ['-0', { n: -0 }],
    ['a hole', [1, , 3]], // eslint-disable-line no-sparse-arrays
    ['an own toJSON', { a: 1, toJSON: () => 'x' }],
    ['a non-enumerable field', Object.defineProperty({ a: 1 }, 'secret', { value: 2, enumerable: false })],
    ['a typed array', { bytes: new Uint8Array([1]) }],
    ['a boxed string', { s: Object('x') as string }],
    ['nesting past the walk depth', JSON.parse(`${'['.repeat(40)}1${']'.repeat(40)}`) as unknown],
  ])('says no for %s', (_, value) => {
    expect(isPlainJson(value)).toBe(false)
  })

  it('says yes for plain data, and no once Object.prototype carries an enumerable field or a toJSON', () => {
    const plain = { i: 1, text: 'x'.repeat(64), nested: [{ a: null, b: true, c: 'é\ud800' }], big: 2 ** 60 }
    expect(isPlainJson(plain)).toBe(true)
    const proto = Object.prototype as Record<string, unknown>
    try {
      proto.inherited = 1
      expect(isPlainJson({ a: 1 })).toBe(false)
    } finally {
      delete proto.inherited
    }
    try {
      Object.defineProperty(proto, 'toJSON', { value: () => 'x', configurable: true, enumerable: false })
      expect(isPlainJson({ a: 1 })).toBe(false)
    } finally {
      delete proto.toJSON
    }
    expect(isPlainJson({ a: 1 })).toBe(true)
  })

  it('publish refuses a field JSON drops even when a validator of the object would see it (non-enumerable)', async () => {
    const T = defineMessage('payload.hidden', z.object({ amount: z.number() }))
    const q = createQueue({ url: 'memory:', app: 'unit_payload_hidden' })
    q.consume(T, () => undefined, { group: 'g' })
    const hidden = Object.defineProperty({}, 'amount', { value: 5, enumerable: false }) as { amount: number }
    await expect(q.publish(T, hidden)).rejects.toMatchObject({ code: 'ERR_QUEUE_INVALID_PAYLOAD' })
    // A plain payload goes through the walk's path and is delivered as JSON carries it.
    await expect(q.publish(T, { amount: 5 })).resolves.toMatchObject({
      messageId: expect.any(String) as string,
    })
    await q.close()
  })
})
