import type { Pool } from 'pg'

/** A pg.Pool stand-in whose statements answer from a script: retry rules need no real failure timing. */
export function fakePool(
  role: 'primary' | 'replica',
  answer: (text: string) => unknown,
): Pool & { texts: string[]; released: (Error | undefined)[] } {
  const texts: string[] = []
  const released: (Error | undefined)[] = []
  const run = (config: { text: string } | string): Promise<unknown> => {
    const text = typeof config === 'string' ? config : config.text
    if (text.includes('AS in_recovery')) {
      return Promise.resolve({
        rows: [{ in_recovery: role === 'replica', lsn: '0/100', replay: '0/100', receive: '0/100' }],
      })
    }
    // The router makes each session of a replica pool it did not create read-only on first use.
    if (text === 'SET default_transaction_read_only = on') return Promise.resolve({ rows: [], rowCount: 0 })
    texts.push(text)
    const out = answer(text)
    // A promise is the answer as it is (one that never settles: a statement that hangs).
    if (out instanceof Promise) return out
    return out instanceof Error ? Promise.reject(out) : Promise.resolve({ rows: [out], rowCount: 1 })
  }
  // What the router uses: pg's promise API (connect(), client.query(text, values), client.release(error)).
  const client = {
    on: () => client,
    removeListener: () => client,
    query: run,
    release: (error?: Error) => {
      released.push(error)
    },
  }
  const pool = {
    texts,
    released,
    totalCount: 0,
    on: () => pool,
    off: () => pool,
    end: () => Promise.resolve(),
    connect: () =>
      new Promise((resolve) =>
        setImmediate(() => {
          resolve(client)
        }),
      ),
    query: run,
  }
  return pool as unknown as Pool & { texts: string[]; released: (Error | undefined)[] }
}
