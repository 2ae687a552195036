import { describe, expect, it } from 'vitest'
import { parseEntry } from '../../src/l2/entry'

describe('the stored entry format', () => {
  it('parses header, tags and a value that itself contains bars', () => {
    const tags = JSON.stringify(['a', 'b|c'])
    const raw = `7|100|200|300|12|0|${tags.length}|${tags}{"x":"1|2"}`
    const { entry, ver } = parseEntry(150, raw, false, -2)
    expect(ver).toBe(7)
    expect(entry).toEqual({
      data: '{"x":"1|2"}',
      ver: 7,
      created: 100,
      expiresAt: 200,
      staleUntil: 300,
      tags: ['a', 'b|c'],
      delta: 12,
    })
  })

  it('reads a tombstone as absent but keeps its version for compare-and-set', () => {
    expect(parseEntry(0, '9|1|0|0|0|1|0|', false, -2)).toMatchObject({ entry: undefined, ver: 9 })
  })

  it('reads a malformed entry as absent with version 0, so the next write replaces it', () => {
    for (const raw of ['garbage', '1|2|3', 'x|1|1|1|1|0|0|v', '1|1|1|1|1|0|99|[', '']) {
      expect(parseEntry(0, raw, false, -2)).toMatchObject({ entry: undefined })
    }
    expect(parseEntry(0, 'garbage', false, -2).ver).toBe(0)
  })
})
