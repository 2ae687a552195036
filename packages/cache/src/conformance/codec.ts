import type { Codec } from '../codec'
import type { TestApi } from './runner'

/** Values every codec must round-trip exactly: what JSON itself carries. */
const JSON_VALUES: readonly (readonly [string, unknown])[] = [
  ['an empty string', ''],
  ['a string with quotes, bars and newlines', 'a "quoted" | barred\nline'],
  ['a string outside ASCII', 'héllo wörld ✓ 漢字 👋'],
  ['an integer', 42],
  ['a negative fraction', -3.25],
  ['zero', 0],
  ['true', true],
  ['false', false],
  ['null', null],
  ['an empty object', {}],
  ['an empty array', []],
  [
    'a nested object',
    { user: { id: 7, name: 'Ada', roles: ['admin', 'dev'], address: { city: 'Paris' } }, ok: true },
  ],
  ['an array of mixed values', [1, 'two', { three: 3 }, [4], null, false]],
  ['an object with a key that looks like a type tag', { $t: 'Date', v: 0, type: 'x' }],
  ['a long string', 'x'.repeat(100_000)],
]

/**
 * The codec contract, for `jsonCodec` and yours: the cache stores what `encode` returns and serves
 * what `decode` returns from both tiers, so a codec must round-trip every JSON value exactly, hand
 * out a fresh copy on each decode, and throw — never return garbage — on text it did not produce
 * and on a value it cannot encode. Register it in a test file of yours:
 *
 * ```ts
 * import { afterEach, describe, expect, it } from 'vitest'
 * import { codecConformance } from '@scalekit/cache/conformance'
 * codecConformance({ describe, it, afterEach, expect }, myCodec)
 * ```
 */
export function codecConformance(t: TestApi, codec: Codec): void {
  const { describe, it, expect } = t
  describe(`codec conformance (${codec.name})`, () => {
    it('has a name', () => {
      expect(typeof codec.name).toBe('string')
      expect(codec.name.length > 0).toBe(true)
    })

    for (const [what, value] of JSON_VALUES) {
      it(`round-trips ${what} to a string and back`, () => {
        const text = codec.encode(value)
        expect(typeof text).toBe('string')
        expect(codec.decode(text)).toEqual(value)
      })
    }

    it('hands out a fresh copy on each decode: changing one does not change the next', () => {
      const text = codec.encode({ list: [1, 2], inner: { n: 1 } })
      const first = codec.decode(text) as { list: number[]; inner: { n: number } }
      first.list.push(3)
      first.inner.n = 2
      expect(codec.decode(text)).toEqual({ list: [1, 2], inner: { n: 1 } })
    })

    it('encodes equal values to text that decodes equal, whatever their key order', () => {
      expect(codec.decode(codec.encode({ a: 1, b: 2 }))).toEqual(codec.decode(codec.encode({ b: 2, a: 1 })))
    })

    it('throws on text it did not produce, rather than returning something', () => {
      for (const text of ['{"unterminated', '\u0000\u0001 not encoded']) {
        let threw = false
        try {
          codec.decode(text)
        } catch {
          threw = true
        }
        expect(threw).toBe(true)
      }
    })

    it('throws on a value it cannot encode (a function), rather than writing something else', () => {
      let threw = false
      try {
        codec.encode({ callback: () => 1 })
      } catch {
        threw = true
      }
      expect(threw).toBe(true)
    })
  })
}
