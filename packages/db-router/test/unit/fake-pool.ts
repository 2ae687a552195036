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
  // pg's two styles, as pg has them: a promise when no callback is given, else the callback
  // (connect(cb) hands over (error, client, release); query(text, values?, cb) hands over (error, result)).
  type Answered = (error: Error | null, result?: unknown) => void
  const client = {
    on: () => client,
    removeListener: () => client,
    query: (
      config: { text: string } | string,
      values?: unknown,
      callback?: Answered,
    ): Promise<unknown> | undefined => {
      const cb = typeof values === 'function' ? (values as Answered) : callback
      if (cb === undefined) return run(config)
      run(config).then(
        (result) => {
          cb(null, result)
        },
        (error: unknown) => {
          cb(error as Error)
        },
      )
      return undefined
    },
    release: (error?: Error) => {
      released.push(error)
    },
  }
  type Connected = (error: Error | undefined, c: typeof client, release: (error?: Error) => void) => void
  const pool = {
    texts,
    released,
    totalCount: 0,
    idleCount: 0,
    waitingCount: 0,
    on: () => pool,
    off: () => pool,
    end: () => Promise.resolve(),
    connect: (callback?: Connected) =>
      new Promise((resolve) =>
        setImmediate(() => {
          if (callback === undefined) resolve(client)
          else callback(undefined, client, client.release)
        }),
      ),
    query: run,
  }
  return pool as unknown as Pool & { texts: string[]; released: (Error | undefined)[] }
}
