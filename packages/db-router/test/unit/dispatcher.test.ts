import type { Pool } from 'pg'
import { describe, expect, it } from 'vitest'
import { Dispatcher } from '../../src/drivers/pg'
import { TextQuery } from '../../src/internal/query-args'

/**
 * A pool whose checkouts of statements mentioning "stuck" never come back, and whose other
 * statements answer on the next turn: the dispatcher's list of pending calls must come out empty.
 */
function pool(): Pool {
  const client = {
    on: () => client,
    query: (text: string, _values: unknown, callback: (error: Error | null, result?: unknown) => void) => {
      setImmediate(() => {
        callback(null, { rows: [{ text }], rowCount: 1 })
      })
    },
  }
  let next = ''
  return {
    connect: (callback: (error: Error | undefined, c: typeof client, release: () => void) => void) => {
      if (next.includes('stuck')) return
      setImmediate(() => {
        callback(undefined, client, () => undefined)
      })
    },
    set text(t: string) {
      next = t
    },
  } as unknown as Pool
}

describe('the dispatcher', () => {
  it('times out the calls that get no connection, answers the others, and keeps none pending', async () => {
    const p = pool() as Pool & { text: string }
    const dispatcher = new Dispatcher(p, 50)
    const send = (text: string): Promise<unknown> => {
      p.text = text
      return dispatcher.query(new TextQuery(text, [], 60), 60).then(
        (r) => r.rows[0],
        (e: unknown) => e,
      )
    }
    // Two rounds: the second round's sweeps walk past the deadlines of every call of the first, so
    // a call left linked after it ended would be ended twice and throw the count off.
    for (let round = 0; round < 2; round++) {
      const started = performance.now()
      const outcomes = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i % 3 === 0 ? `stuck ${i}` : `ok ${i}`)))
      const waited = performance.now() - started
      outcomes.forEach((outcome, i) => {
        if (i % 3 === 0) expect(outcome).toMatchObject({ code: 'ERR_DB_TIMEOUT' })
        else expect(outcome).toEqual({ text: `ok ${i}` })
      })
      // Never early; within a sweep period (5 ms at this timeout) and some scheduling slack.
      expect(waited).toBeGreaterThanOrEqual(50)
      expect(waited).toBeLessThan(1_000)
      expect(dispatcher.pending).toBe(0)
    }
  })
})
