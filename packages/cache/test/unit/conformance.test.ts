import { afterEach, describe, expect, it } from 'vitest'
import { codecConformance } from '../../src/conformance/index'
import { type Codec, jsonCodec } from '../../src/index'

codecConformance({ describe, it, afterEach, expect }, jsonCodec)

describe('codec conformance', () => {
  it('fails a codec that silently writes something for a value it cannot encode', async () => {
    const lossy: Codec = {
      name: 'lossy',
      encode: (value) => JSON.stringify(value),
      decode: (text) => JSON.parse(text) as unknown,
    }
    const tests = new Map<string, () => Promise<void> | void>()
    codecConformance(
      {
        describe: (_name, body) => {
          body()
        },
        it: (name, test) => {
          tests.set(name, test)
        },
        afterEach: () => undefined,
        expect,
      },
      lossy,
    )
    const failed: string[] = []
    for (const [name, test] of tests) {
      try {
        await test()
      } catch {
        failed.push(name)
      }
    }
    expect(tests.size).toBeGreaterThan(10)
    expect(failed).toEqual([
      'throws on a value it cannot encode (a function), rather than writing something else',
    ])
  })
})
