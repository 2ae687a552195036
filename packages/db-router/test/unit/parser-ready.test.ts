import { waitFor } from '@scalekit/test-utils'
import { describe, expect, it } from 'vitest'
import { isParserLoaded } from '../../src/classify/classifier'
import { createDbRouter } from '../../src/index'

// Its own file: vitest runs each file in a fresh module context, so the parser starts unloaded here.
describe('the SQL parser (WebAssembly) loads when the router is created (issue 13, item 9)', () => {
  it('starts loading at construction, without a query; ready() resolves once it is loaded', async () => {
    expect(isParserLoaded()).toBe(false)
    const db = createDbRouter({ primary: 'postgres://postgres@127.0.0.1:1/none' })
    try {
      // No query, no ready(): the construction alone loads it, so the first statement does not wait.
      await waitFor(() => isParserLoaded(), { timeout: 10_000, message: 'parser loaded in the background' })
      await db.ready()
      expect(isParserLoaded()).toBe(true)
    } finally {
      await db.close()
    }
  })
})
