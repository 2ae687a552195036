import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { formatData, formatSession, mergeData, parseData, parseSession } from '../../src/drivers/session-text'
import type { JsonValue } from '../../src/tokens/types'

/** Names and values meant to look like the layout's own marks: line feeds, quotes, colons, commas. */
const name = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.constantFrom('a', 'b', '"', '\n', ':', ',\n"a":', '\\', 'a"', '}'),
)
const value: fc.Arbitrary<JsonValue> = fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonValue>
const record = fc.dictionary(name, value, { maxKeys: 6 })

/** What JSON makes of `data`: the value a load gives back. */
const asJson = (data: Readonly<Record<string, JsonValue>>): unknown => JSON.parse(JSON.stringify(data))

describe('the Redis session text', () => {
  it('changes field by field as a data object would change', () => {
    fc.assert(
      fc.property(record, record, fc.array(name, { maxLength: 4 }), (data, set, unset) => {
        const expected: Record<string, JsonValue> = { ...data, ...set }
        for (const n of unset) delete expected[n] // eslint-disable-line @typescript-eslint/no-dynamic-delete
        const merged = mergeData(formatData(data), set, unset)
        expect(parseData(merged)).toEqual(asJson(expected))
        // A line feed only ever starts a field.
        expect(merged.split('\n').length - 1).toBe(Object.keys(expected).length)
      }),
      { numRuns: 2000 },
    )
  })

  it('reads back what it wrote, and refuses what it did not', () => {
    const text = {
      revision: 7,
      createdAt: 1,
      expiresAt: 2,
      lastWrite: 3,
      idleMs: 4,
      user: JSON.stringify('al\nice'),
      data: formatData({ a: [1] }),
    }
    expect(parseSession(formatSession(text))).toEqual(text)
    expect(parseSession(formatSession({ ...text, user: '' }))).toEqual({ ...text, user: '' })
    for (const raw of [
      undefined,
      1,
      '',
      '{"a":1}',
      '1\n2\n3\n4\n5\n\n[]',
      'x\n2\n3\n4\n5\n\n{}',
      '1\n2\n3\n4\n\n{}',
    ])
      expect(parseSession(raw)).toBeUndefined()
    expect(parseData('{"a":')).toBeUndefined()
    expect(parseData('[1]')).toBeUndefined()
  })
})
