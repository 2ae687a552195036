import { describe, expect, it } from 'vitest'
import { runQuickStart } from '../support/quick-start'

describe('the README quick start, as written (memory:)', () => {
  it('runs its handler before it closes, and exits by itself', async () => {
    const result = await runQuickStart()
    expect(result.stderr).toBe('')
    expect(result).toMatchObject({ code: 0, stdout: 'receipt 42\n' })
  }, 60_000)
})
