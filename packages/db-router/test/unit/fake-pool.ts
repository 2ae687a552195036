import type { Pool } from 'pg'

/** A pg.Pool stand-in whose statements answer from a script: retry rules need no real failure timing. */
export function fakePool(role: 'primary' | 'replica', answer: (text: string) => unknown): Pool & { texts: string[] } {
  const texts: string[] = []
  const run = (config: { text: string } | string): Promise<unknown> => {
    const text = typeof config === 'string' ? config : config.text
    if (text.includes('AS in_recovery')) {
      return Promise.resolve({ rows: [{ in_recovery: role === 'replica', lsn: '0/100', replay: '0/100', receive: '0/100' }] })
    }
    texts.push(text)
    const out = answer(text)
    return out instanceof Error ? Promise.reject(out) : Promise.resolve({ rows: [out], rowCount: 1 })
  }
  // What the router uses: a checkout by callback, and query(text, values, callback) on the client.
  const client = {
    on: () => client,
    query: (config: { text: string } | string, _values: unknown, callback: (error: Error | null, result?: unknown) => void) => {
      run(config).then(
        (result) => {
          callback(null, result)
        },
        (error: unknown) => {
          callback(error as Error)
        },
      )
    },
  }
  const pool = {
    texts,
    totalCount: 0,
    on: () => pool,
    end: () => Promise.resolve(),
    connect: (callback: (error: Error | undefined, c: typeof client, release: () => void) => void) => {
      setImmediate(() => {
        callback(undefined, client, () => undefined)
      })
    },
    query: run,
  }
  return pool as unknown as Pool & { texts: string[] }
}
