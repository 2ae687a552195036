import { Buffer } from 'node:buffer'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createJsonCodec, jsonCodec } from '../../src/codec'
import { CacheDecodeError, CacheEncodeError } from '../../src/errors'

// RegExp revival is opt-in; these round trips cover it too.
const withRegExp = createJsonCodec({ regExp: true })
const roundTrip = (value: unknown): unknown => withRegExp.decode(withRegExp.encode(value))
const hasMinusZero = (value: unknown): boolean =>
  Object.is(value, -0) ||
  (typeof value === 'object' && value !== null && Object.values(value).some(hasMinusZero))

/** Any code unit, lone surrogates and the marker included. */
const char = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
  fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '$t', '"$t"', '\\', '\u0000'),
)
const text = fc.string({ unit: char })
// No `constructor` key here: toStrictEqual compares `a.constructor === b.constructor`, so two equal
// copies under that key would compare unequal. It has its own case below.
const key = fc
  .oneof(text, fc.constantFrom('$t', 'v', '__proto__', 'toJSON', 'hasOwnProperty', ''))
  .filter((k) => k !== 'constructor')
const leaf = fc.oneof(
  fc.boolean(),
  fc.integer(),
  fc.double(),
  text,
  fc.constantFrom(null, undefined, Number.NaN, 0, -0, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
  fc.bigInt(),
  fc.date(),
  fc.constantFrom(/a+b/giu, /^\/x$/m, /(?:)/, new RegExp('\\u{1F600}', 'v')),
  fc.uint8Array().map((bytes) => Buffer.from(bytes)),
  fc.uint8Array(),
  fc.dictionary(fc.constantFrom('$t', 'v'), fc.constantFrom('Date', 'undef', 'Obj', 1)),
)
/** Everything the codec supports, nested; no sparse arrays (holes come back as `undefined`). */
const supported = fc.anything({
  key,
  values: [leaf],
  maxDepth: 4,
  withMap: true,
  withSet: true,
  withNullPrototype: true,
  withSparseArray: false,
  withBoxedValues: false,
  withTypedArray: false,
})

describe('jsonCodec round trips', () => {
  it('round-trips anything supported, nested', () => {
    fc.assert(
      fc.property(supported, (value) => {
        expect(roundTrip(value)).toStrictEqual(value)
      }),
      { numRuns: 500 },
    )
  })

  it('round-trips fast-check own anything() with BigInt, Date, Map, Set, null prototypes and unicode', () => {
    const anything = fc.anything({
      key: fc.string({ unit: 'binary' }).filter((k) => k !== 'constructor'),
      withBigInt: true,
      withDate: true,
      withMap: true,
      withSet: true,
      withNullPrototype: true,
      withObjectString: true,
      stringUnit: 'binary',
    })
    fc.assert(
      fc.property(anything, (value) => {
        expect(roundTrip(value)).toStrictEqual(value)
      }),
      { numRuns: 300 },
    )
  })

  it('writes plain JSON, unchanged, for values JSON alone round-trips (the fast path)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        fc.pre(!JSON.stringify(value).includes('"$t"') && !hasMinusZero(value))
        expect(jsonCodec.encode(value)).toBe(JSON.stringify(value))
        expect(jsonCodec.decode(jsonCodec.encode(value))).toStrictEqual(value)
      }),
    )
  })

  it.each([
    ['undefined', undefined],
    ['null', null],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
    ['-0', -0],
    ['0', 0],
    ['a BigInt', -(2n ** 100n)],
    ['a Date', new Date('2024-02-29T23:59:59.999Z')],
    ['an invalid Date', new Date(Number.NaN)],
    ['a RegExp', /x\/y[^"]+$/dgimsuy],
    ['a Uint8Array', new Uint8Array([0, 1, 254, 255])],
    ['a Buffer', Buffer.from('héllo')],
    ['an empty string', ''],
    ['lone surrogates', 'a\ud800b\udfffc\udbff'],
    ['a surrogate pair and emoji', '😀 e\u0301 \u2028\u2029'],
    ['an object with a constructor key', { constructor: 'mine', toString: 1 }],
    ['a null-prototype object', Object.assign(Object.create(null) as object, { a: 1, $t: 'x' })],
    [
      'nested containers',
      {
        m: new Map<unknown, unknown>([
          [{ k: 1 }, new Set([1n, undefined])],
          [new Date(0), [null]],
        ]),
      },
    ],
  ])('round-trips %s exactly', (_name, value) => {
    const back = roundTrip(value)
    expect(back).toStrictEqual(value)
    if (typeof value === 'number') expect(Object.is(back, value)).toBe(true)
  })

  it('keeps undefined and null apart, top-level, in objects and arrays', () => {
    const back = roundTrip({ u: undefined, n: null, list: [undefined, null] }) as Record<string, unknown>
    expect(Object.keys(back)).toEqual(['u', 'n', 'list'])
    expect(back.u).toBeUndefined()
    expect(back.n).toBeNull()
    expect(back.list).toStrictEqual([undefined, null])
    expect(roundTrip(undefined)).toBeUndefined()
  })

  it('returns an array hole as undefined', () => {
    // eslint-disable-next-line no-sparse-arrays
    expect(roundTrip([1, , 3])).toStrictEqual([1, undefined, 3])
  })

  it('keeps -0 in objects, arrays and Map values', () => {
    const back = roundTrip({ z: -0, list: [-0], map: new Map([['k', -0]]) }) as {
      z: number
      list: number[]
      map: Map<string, number>
    }
    expect(Object.is(back.z, -0)).toBe(true)
    expect(Object.is(back.list[0], -0)).toBe(true)
    expect(Object.is(back.map.get('k'), -0)).toBe(true)
  })

  it('keeps Map and Set insertion order, with object keys', () => {
    const map = new Map<unknown, unknown>([
      ['z', 1],
      [{ o: 1 }, 2],
      [3n, 3],
      [undefined, 4],
      ['a', 5],
    ])
    const back = roundTrip(map) as Map<unknown, unknown>
    expect([...back.values()]).toEqual([1, 2, 3, 4, 5])
    expect(back).toStrictEqual(map)
    expect([...(roundTrip(new Set(['z', 'a', 'm'])) as Set<string>)]).toEqual(['z', 'a', 'm'])
  })

  it('encodes class instances as plain objects of their own enumerable props', () => {
    class Point {
      readonly x = 1
      readonly y = 2
      get sum(): number {
        return this.x + this.y
      }
    }
    const back = roundTrip(new Point())
    expect(back).toStrictEqual({ x: 1, y: 2 })
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
  })

  it('duplicates shared (non-circular) references', () => {
    const shared = { a: 1 }
    const back = roundTrip({ first: shared, second: shared }) as Record<string, unknown>
    expect(back).toStrictEqual({ first: { a: 1 }, second: { a: 1 } })
    expect(back.first).not.toBe(back.second)
  })

  it('round-trips values nested deeper than the fast path checks', () => {
    let deep: unknown = { leaf: new Date(1) }
    for (let i = 0; i < 500; i++) deep = i % 2 === 0 ? [deep] : { d: deep }
    expect(roundTrip(deep)).toStrictEqual(deep)
  })

  it('keeps an own __proto__ key as data, not as the prototype', () => {
    const value = JSON.parse('{"__proto__":{"polluted":1},"d":{"__proto__":[1]}}') as Record<string, unknown>
    value.when = new Date(5)
    const back = roundTrip(value) as Record<string, unknown>
    expect(Object.getPrototypeOf(back)).toBe(Object.prototype)
    expect(Object.hasOwn(back, '__proto__')).toBe(true)
    expect(back).toStrictEqual(value)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })
})

describe('jsonCodec $t escaping', () => {
  it.each([
    { $t: 'Date', v: 0 },
    { $t: 'undef' },
    { $t: 'Obj', v: { $t: 'Date', v: 1 } },
    { $t: 1, nested: { $t: 'NaN' } },
    [{ $t: 'BigInt', v: '1' }],
  ])('round-trips the user value %j that looks like a tag', (value) => {
    expect(roundTrip(value)).toStrictEqual(value)
  })

  it('wraps a user object that has the marker key, and nothing else', () => {
    expect(jsonCodec.encode({ $t: 'Date', v: 0 })).toBe('{"$t":"Obj","v":{"$t":"Date","v":0}}')
    expect(jsonCodec.encode({ t: 'Date', $v: 0 })).toBe('{"t":"Date","$v":0}')
  })

  it('round-trips strings holding the marker', () => {
    for (const value of ['$t"', '"$t"', '{"$t":"Date","v":0}', 'x$t'])
      expect(roundTrip({ [value]: value })).toStrictEqual({ [value]: value })
  })
})

describe('jsonCodec errors', () => {
  const encodeError = (value: unknown): CacheEncodeError => {
    try {
      jsonCodec.encode(value)
    } catch (error) {
      expect(error).toBeInstanceOf(CacheEncodeError)
      return error as CacheEncodeError
    }
    throw new Error('encode did not throw')
  }

  it('rejects a function with its path', () => {
    const error = encodeError({ user: { tags: [1, 2, () => 3] } })
    expect(error.code).toBe('ERR_CACHE_ENCODE')
    expect(error.message).toBe('Cannot encode a function at $.user.tags[2]')
    expect(encodeError(() => 1).message).toBe('Cannot encode a function at $')
  })

  it('rejects a symbol value with its path, quoting odd keys', () => {
    expect(encodeError({ 'odd key': [Symbol('s')] }).message).toBe(
      'Cannot encode a symbol at $["odd key"][0]',
    )
  })

  it('names the path inside Maps and Sets', () => {
    expect(encodeError({ m: new Map([['k', { f: () => 1 }]]) }).message).toBe(
      'Cannot encode a function at $.m.<value #0>.f',
    )
    expect(encodeError(new Map([[Symbol('k'), 1]])).message).toBe('Cannot encode a symbol at $.<key #0>')
    expect(encodeError(new Set([1, Symbol('s')])).message).toBe('Cannot encode a symbol at $.<item #1>')
  })

  it('rejects a cycle, naming where it is and where it points, without overflowing the stack', () => {
    const node: Record<string, unknown> = { name: 'a' }
    node.child = { list: [node] }
    const error = encodeError({ root: node })
    expect(error.message).toBe(
      'Cannot encode a circular reference at $.root.child.list[0] (it points back to $.root)',
    )
    const map = new Map<string, unknown>()
    map.set('self', map)
    expect(encodeError(map).message).toContain('circular reference at $.<value #0>')
    const selfArray: unknown[] = []
    selfArray.push(selfArray)
    expect(encodeError(selfArray).message).toBe(
      'Cannot encode a circular reference at $[0] (it points back to $)',
    )
  })

  it('rejects a cycle deeper than the fast-path check', () => {
    const root: Record<string, unknown> = {}
    let node = root
    for (let i = 0; i < 100; i++) {
      const next: Record<string, unknown> = {}
      node.next = next
      node = next
    }
    node.back = root
    expect(encodeError(root).message).toMatch(
      /^Cannot encode a circular reference at \$(\.next){100}\.back \(it points back to \$\)$/,
    )
  })

  it('rejects binary data other than Uint8Array/Buffer, promises and weak collections', () => {
    expect(encodeError({ f: new Float64Array(1) }).message).toBe(
      'Cannot encode a Float64Array (of binary data, only Uint8Array and Buffer are supported) at $.f',
    )
    expect(encodeError(new ArrayBuffer(2)).message).toContain('an ArrayBuffer')
    expect(encodeError([Promise.resolve(1)]).message).toBe('Cannot encode a Promise at $[0]')
    expect(encodeError(new WeakMap()).message).toBe('Cannot encode a WeakMap at $')
  })

  it('wraps a throwing getter, with its cause', () => {
    const cause = new Error('getter failed')
    const error = encodeError({
      get broken(): never {
        throw cause
      },
    })
    expect(error.cause).toBe(cause)
  })

  it('throws CacheEncodeError, not a stack overflow, for absurdly deep values', () => {
    let deep: unknown = 1
    for (let i = 0; i < 200_000; i++) deep = [deep]
    expect(encodeError(deep).message).toMatch(
      /^Cannot encode a value nested deeper than 512 levels \(maxDepth\) at \$(\[0\]){512}$/,
    )
  })

  it.each([
    ['not JSON', '{"a":'],
    ['empty', ''],
    ['an unknown tag', '{"$t":"Nope"}'],
    ['a malformed BigInt', '{"$t":"BigInt","v":"1.5"}'],
    ['a malformed Date', '{"$t":"Date","v":"yesterday"}'],
    ['a malformed Map', '{"$t":"Map","v":[1]}'],
    ['a malformed Set', '{"$t":"Set","v":{}}'],
    ['a RegExp (revival is off by default)', '{"$t":"RegExp","v":["^(a+)+$",""]}'],
    ['malformed bytes', '{"$t":"U8","v":"!!"}'],
    ['a malformed escaped object', '{"$t":"Obj","v":[1]}'],
    ['a non-string tag', '[{"$t":{"x":1}}]'],
  ])('throws CacheDecodeError for %s', (_name, textValue) => {
    expect(() => jsonCodec.decode(textValue)).toThrow(CacheDecodeError)
  })

  it('keeps the parser error as the cause, but not the text in the message', () => {
    try {
      jsonCodec.decode('{"secret-user-data":')
      expect.unreachable()
    } catch (error) {
      expect(error).toBeInstanceOf(CacheDecodeError)
      expect((error as CacheDecodeError).cause).toBeInstanceOf(SyntaxError)
      expect((error as CacheDecodeError).message).not.toContain('secret')
      expect((error as CacheDecodeError).code).toBe('ERR_CACHE_DECODE')
    }
  })
})
