import type { Pool } from 'pg'
import { describe, expect, it } from 'vitest'
import { DbRouterClosedError } from '../../src/errors'
import { TextQuery } from '../../src/internal/query-args'
import { Dispatcher } from '../../src/nodes/dispatcher'

type Answered = (error: Error | null, result?: unknown) => void
type Connected = (error: Error | undefined, c: Client, release: (error?: Error) => void) => void

interface Client {
  query(text: string, values?: unknown, callback?: Answered): Promise<unknown> | undefined
  release(error?: Error): void
  on(): Client
  removeListener(): Client
}

/**
 * A pool whose checkouts for statements mentioning "stuck" come back only when `unstick()` is
 * called, whose statements mentioning "slow" never answer, and whose other statements answer on
 * the next turn. Records how each connection was given back. Serves pg's two styles (a promise
 * without a callback, else the callback), as pg does.
 */
function pool(): Pool & { next: string; released: (Error | undefined)[]; unstick(): void } {
  const released: (Error | undefined)[] = []
  const stuck: (() => void)[] = []
  const client = (): Client => {
    const answer = (text: string): Promise<unknown> =>
      text.includes('slow')
        ? new Promise(() => undefined)
        : new Promise((resolve) =>
            setImmediate(() => {
              resolve({ rows: [{ text }], rowCount: 1 })
            }),
          )
    const c: Client = {
      on: () => c,
      removeListener: () => c,
      query: (text, values, callback) => {
        if (text.includes('throw')) throw new TypeError('pg refused the query config')
        const cb = typeof values === 'function' ? (values as Answered) : callback
        if (cb === undefined) return answer(text)
        answer(text).then((result) => {
          cb(null, result)
        }, cb)
        return undefined
      },
      release: (error) => {
        released.push(error)
      },
    }
    return c
  }
  const p = {
    next: '',
    released,
    unstick: () => {
      for (const go of stuck.splice(0)) go()
    },
    connect: (callback?: Connected) =>
      new Promise((resolve) => {
        const hand = (): void => {
          const c = client()
          if (callback === undefined) resolve(c)
          else
            callback(undefined, c, (error) => {
              c.release(error)
            })
        }
        if (p.next.includes('stuck')) stuck.push(hand)
        else setImmediate(hand)
      }),
  }
  return p as unknown as Pool & { next: string; released: (Error | undefined)[]; unstick(): void }
}

const settle = (promise: Promise<{ rows: unknown[] }>): Promise<unknown> =>
  promise.then(
    (r) => r.rows[0],
    (e: unknown) => e,
  )

describe('the dispatcher', () => {
  it('times out the calls that get no connection or no answer, answers the others, and keeps none pending', async () => {
    const p = pool()
    const dispatcher = new Dispatcher(p, 20)
    const send = (text: string): Promise<unknown> => {
      p.next = text
      return settle(dispatcher.query(new TextQuery(text, [], 30), 30))
    }
    // Two rounds: a call left pending after the first would still be counted after the second.
    for (let round = 0; round < 2; round++) {
      const outcomes = await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          send(i % 4 === 0 ? `stuck ${i}` : i % 4 === 1 ? `slow ${i}` : `ok ${i}`),
        ),
      )
      outcomes.forEach((outcome, i) => {
        if (i % 4 === 0)
          expect(outcome).toMatchObject({
            code: 'ERR_DB_TIMEOUT',
            message: expect.stringContaining('no connection') as unknown,
          })
        else if (i % 4 === 1)
          expect(outcome).toMatchObject({
            code: 'ERR_DB_TIMEOUT',
            message: expect.stringContaining('no answer') as unknown,
          })
        else expect(outcome).toEqual({ text: `ok ${i}` })
      })
      expect(dispatcher.pending).toBe(0)
    }
    // A session that timed out is closed (released with the error); the answered ones go back as they are.
    expect(p.released.filter((e) => e?.message.includes('no answer') === true)).toHaveLength(20)
    expect(p.released.filter((e) => e === undefined)).toHaveLength(40)
    // A connection that arrives after its call gave up goes straight back.
    p.unstick()
    await new Promise((resolve) => setImmediate(resolve))
    expect(p.released.filter((e) => e === undefined)).toHaveLength(60)
  })

  it('checkout() hands a session over, times out a checkout that gets none, and gives a late one straight back', async () => {
    const p = pool()
    const dispatcher = new Dispatcher(p, 20)
    const session = await dispatcher.checkout()
    expect(dispatcher.pending).toBe(0)
    expect(p.released).toEqual([])
    session.release()
    p.next = 'stuck'
    await expect(dispatcher.checkout()).rejects.toMatchObject({
      code: 'ERR_DB_TIMEOUT',
      message: expect.stringContaining('no connection') as unknown,
    })
    expect(dispatcher.pending).toBe(0)
    expect(p.released).toEqual([undefined])
    p.unstick()
    expect(p.released).toEqual([undefined, undefined])
    // After abort(), refused with its error.
    dispatcher.abort(new DbRouterClosedError('closed'))
    await expect(dispatcher.checkout()).rejects.toBeInstanceOf(DbRouterClosedError)
  })

  it('turns a synchronous throw of client.query into the rejection of the call and gives the connection back', async () => {
    const p = pool()
    const dispatcher = new Dispatcher(p, 1000)
    const outcome = await settle(dispatcher.query(new TextQuery('throw', [], 1000), 1000))
    expect(outcome).toBeInstanceOf(TypeError)
    expect(p.released).toEqual([undefined])
    expect(dispatcher.pending).toBe(0)
  })

  it('abort() ends the calls in flight with ERR_DB_CLOSED, closes their sessions and refuses new calls', async () => {
    const p = pool()
    const dispatcher = new Dispatcher(p, 60_000)
    p.next = 'slow'
    const inFlight = settle(dispatcher.query(new TextQuery('slow', [], 60_000), 60_000))
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    dispatcher.abort(new DbRouterClosedError('closed'))
    expect(await inFlight).toBeInstanceOf(DbRouterClosedError)
    expect(p.released).toEqual([expect.objectContaining({ code: 'ERR_DB_CLOSED' })])
    await expect(dispatcher.query(new TextQuery('SELECT 1', [], 10), 10)).rejects.toBeInstanceOf(
      DbRouterClosedError,
    )
    expect(dispatcher.pending).toBe(0)
  })
})
