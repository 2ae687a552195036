import { describe, expect, it } from 'vitest'
import {
  CacheDecodeError,
  CacheEncodeError,
  CacheOptionsError,
  createJsonCodec,
  jsonCodec,
} from '../../src/index'

const decodeError = (text: string, codec = jsonCodec): CacheDecodeError => {
  try {
    codec.decode(text)
  } catch (error) {
    expect(error).toBeInstanceOf(CacheDecodeError)
    return error as CacheDecodeError
  }
  return expect.unreachable('decode accepted the text')
}

describe('the json codec bounds what it revives (issue 12, defect 10)', () => {
  it('refuses a BigInt of a million digits before parsing it, and one past maxBigIntDigits on encode', () => {
    const huge = `{"$t":"BigInt","v":"${'9'.repeat(1_000_000)}"}`
    expect(decodeError(huge).message).toMatch(/more than 4096 digits/)
    const limit = BigInt(`-${'9'.repeat(4096)}`)
    expect(jsonCodec.decode(jsonCodec.encode(limit))).toBe(limit)
    expect(() => jsonCodec.encode({ n: limit * 10n })).toThrow(CacheEncodeError)
    expect(() => jsonCodec.encode({ n: limit * 10n })).toThrow(/\$\.n/)
    const small = createJsonCodec({ maxBigIntDigits: 3 })
    expect(small.decode(small.encode(999n))).toBe(999n)
    expect(() => small.encode(1000n)).toThrow(CacheEncodeError)
    expect(decodeError('{"$t":"BigInt","v":"1000"}', small)).toBeInstanceOf(CacheDecodeError)
  })

  it('never revives a RegExp by default, and refuses to encode one', () => {
    const evil = '{"$t":"RegExp","v":["^(a+)+$",""]}'
    expect(decodeError(evil).message).toMatch(/RegExp/)
    expect(decodeError(`{"deep":[${evil}]}`).message).toMatch(/RegExp/)
    expect(() => jsonCodec.encode({ pattern: /x/ })).toThrow(CacheEncodeError)
    expect(() => jsonCodec.encode({ pattern: /x/ })).toThrow(/regExp: true/)
    const opted = createJsonCodec({ regExp: true })
    expect(opted.decode(opted.encode({ pattern: /a+b/gu }))).toStrictEqual({ pattern: /a+b/gu })
  })

  it('refuses nesting past maxDepth with a coded error, not a stack overflow', () => {
    const deep = `${'['.repeat(100_000)}{"$t":"undef"}${']'.repeat(100_000)}`
    expect(decodeError(deep).message).toMatch(/deeper than 512 levels/)
    let value: unknown = new Date(0)
    for (let i = 0; i < 512; i++) value = [value]
    expect(() => jsonCodec.encode(value)).toThrow(/deeper than 512 levels/)
    value = (value as unknown[])[0]
    expect(jsonCodec.decode(jsonCodec.encode(value))).toStrictEqual(value)
    // A Date, Map or Set counts as a level, like an array or an object.
    const shallow = createJsonCodec({ maxDepth: 3 })
    expect(shallow.decode(shallow.encode([[new Date(1)]]))).toStrictEqual([[new Date(1)]])
    expect(shallow.decode(shallow.encode([[[1]]]))).toStrictEqual([[[1]]])
    expect(() => shallow.encode([[[new Date(1)]]])).toThrow(CacheEncodeError)
    expect(() => shallow.encode([[[[1]]]])).toThrow(CacheEncodeError)
    expect(decodeError('[[[{"$t":"Date","v":1}]]]', shallow)).toBeInstanceOf(CacheDecodeError)
  })

  it('refuses text longer than maxLength on both sides', () => {
    const short = createJsonCodec({ maxLength: 10 })
    expect(short.decode(short.encode('12345678'))).toBe('12345678')
    expect(() => short.encode('123456789')).toThrow(CacheEncodeError)
    expect(decodeError('"123456789"', short).message).toMatch(/longer than 10/)
  })

  it.each([
    [null],
    ['no'],
    [{ maxDepth: 0 }],
    [{ maxLength: 1.5 }],
    [{ maxBigIntDigits: '9' }],
    [{ regExp: 'yes' }],
  ])('refuses bad options with CacheOptionsError: %j', (options) => {
    expect(() => createJsonCodec(options as never)).toThrow(CacheOptionsError)
  })
})
