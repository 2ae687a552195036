import { randomBytes } from 'node:crypto'
import { sleep } from '@scalekit/internal'
import type { SessionStore, StoredSession } from '../sessions/store'

export type { SessionStore, StoredSession, StoredSessionInfo } from '../sessions/store'

/** The assertions the suite uses: a structural subset of vitest's and Jest's `expect(actual)`. */
export interface Expectation {
  toBe(expected: unknown): void
  toEqual(expected: unknown): void
  toBeUndefined(): void
}

/**
 * The test runner the suite registers its tests with: vitest's (or Jest's) `describe`, `it` and
 * `expect`, taken structurally so the package depends on no test runner.
 */
export interface TestApi {
  readonly describe: (name: string, body: () => void) => void
  readonly it: (name: string, test: () => Promise<void>, timeout?: number) => void
  readonly expect: (actual: unknown) => Expectation
}

/** What the suite runs against. */
export interface StoreUnderTest {
  /** Shown in the test names. */
  readonly name: string
  /** The store; called once per test (each test uses keys of its own). */
  readonly createStore: () => SessionStore | Promise<SessionStore>
}

const key = (): string => randomBytes(32).toString('base64url')

function session(over: Partial<StoredSession> = {}): StoredSession {
  const now = Date.now()
  return { userId: undefined, createdAt: now, lastSeenAt: now, expiresAt: now + 60_000, data: {}, ...over }
}

/** Polls until `check` holds, for a timeout that runs on the store's own clock. */
async function eventually(check: () => Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(25)
  }
}

/**
 * The session store contract, as one suite: every store (memory, Redis, Redis Cluster, yours)
 * must pass it unchanged.
 *
 * ```ts
 * import { describe, expect, it } from 'vitest'
 * import { runSessionStoreConformance } from '@scalekit/session/conformance'
 * runSessionStoreConformance({ describe, it, expect }, { name: 'my store', createStore: () => myStore })
 * ```
 */
export function runSessionStoreConformance(api: TestApi, target: StoreUnderTest): void {
  const { describe, it, expect } = api
  const IDLE = 60_000
  describe(`session store conformance: ${target.name}`, () => {
    it('stores a session and loads it back, data fields as given', async () => {
      const store = await target.createStore()
      const k = key()
      const s = session({ userId: 'u1', data: { a: 1, b: { x: [1, 2] } } })
      await store.create(k, s, IDLE)
      const loaded = await store.load(k, Date.now(), IDLE, false)
      expect(loaded?.userId).toBe('u1')
      expect(loaded?.createdAt).toBe(s.createdAt)
      expect(loaded?.expiresAt).toBe(s.expiresAt)
      expect(loaded?.data).toEqual({ a: 1, b: { x: [1, 2] } })
      expect(await store.load(key(), Date.now(), IDLE, false)).toBeUndefined()
    })

    it('updates fields one by one: the others are kept, unset ones removed', async () => {
      const store = await target.createStore()
      const k = key()
      await store.create(k, session({ data: { a: 1, b: 2, c: 3 } }), IDLE)
      expect(await store.update(k, { b: 20, d: 4 }, ['c'], Date.now(), IDLE)).toBe(true)
      expect((await store.load(k, Date.now(), IDLE, false))?.data).toEqual({ a: 1, b: 20, d: 4 })
      expect(await store.update(k, {}, ['a', 'b', 'd', 'missing'], Date.now(), IDLE)).toBe(true)
      expect((await store.load(k, Date.now(), IDLE, false))?.data).toEqual({})
    })

    it('keeps every field, whatever its name and value, through updates of the others', async () => {
      const store = await target.createStore()
      const k = key()
      const data = {
        empty: [],
        object: {},
        big: 1.5e300,
        tiny: 0.1,
        negative: -0.5,
        no: false,
        nothing: null,
        slash: 'a/b\\c',
        unicode: 'é😀\u0000\u2028',
        lines: 'a\nb,\n"c":1\n}',
        nested: { a: [], b: { c: [1.5e300, 'x\ny'] } },
        'quote"name': 1,
        'line\nname': 2,
        'colon":name': 3,
        ',\n"x":': 4,
        '': 5,
      }
      await store.create(k, session({ data }), IDLE)
      expect(await store.update(k, { other: 1 }, [], Date.now(), IDLE)).toBe(true)
      expect(await store.update(k, {}, ['other'], Date.now(), IDLE)).toBe(true)
      expect((await store.load(k, Date.now(), IDLE, true))?.data).toEqual(data)
      // Each field changed on its own, then removed on its own: the rest as they were each time.
      const names = Object.keys(data)
      for (const name of names) {
        expect(await store.update(k, { [name]: [name] }, [], Date.now(), IDLE)).toBe(true)
        expect((await store.load(k, Date.now(), IDLE, false))?.data).toEqual({ ...data, [name]: [name] })
        expect(await store.update(k, { [name]: data[name as keyof typeof data] }, [], Date.now(), IDLE)).toBe(
          true,
        )
      }
      for (const [i, name] of names.entries()) {
        expect(await store.update(k, {}, [name], Date.now(), IDLE)).toBe(true)
        const rest = Object.fromEntries(Object.entries(data).slice(i + 1))
        expect((await store.load(k, Date.now(), IDLE, false))?.data).toEqual(rest)
      }
      expect(await store.update(k, { a: [] }, [], Date.now(), IDLE)).toBe(true)
      expect((await store.load(k, Date.now(), IDLE, false))?.data).toEqual({ a: [] })
    })

    it("hands out data of the caller's own: changing it changes nothing stored", async () => {
      const store = await target.createStore()
      const k = key()
      await store.create(k, session({ data: { cart: ['a'], n: 1 } }), IDLE)
      const loaded = await store.load(k, Date.now(), IDLE, false)
      ;(loaded?.data['cart'] as string[]).push('b')
      ;(loaded?.data as Record<string, unknown>)['n'] = 2
      expect(await store.update(k, { other: 1 }, [], Date.now(), IDLE, loaded)).toBe(true)
      expect((await store.load(k, Date.now(), IDLE, false))?.data).toEqual({ cart: ['a'], n: 1, other: 1 })
    })

    it('keeps what was written since the base an update was given', async () => {
      const store = await target.createStore()
      const k = key()
      const created = session({ data: { a: 1 } })
      await store.create(k, created, IDLE)
      const loaded = await store.load(k, Date.now(), IDLE, false)
      // Others write after this caller's create and load ...
      expect(await store.update(k, { b: 2 }, [], Date.now(), IDLE)).toBe(true)
      expect(await store.update(k, { c: 3 }, ['a'], Date.now(), IDLE, loaded)).toBe(true)
      // ... and the caller's updates, from either base, apply to the session as it is now.
      expect(await store.update(k, { d: 4 }, [], Date.now(), IDLE, created)).toBe(true)
      expect(await store.update(k, { e: 5 }, ['c'], Date.now(), IDLE, loaded)).toBe(true)
      expect((await store.load(k, Date.now(), IDLE, false))?.data).toEqual({ b: 2, d: 4, e: 5 })
      // A base of a session that is gone brings nothing back.
      await store.destroy(k)
      expect(await store.update(k, { f: 6 }, [], Date.now(), IDLE, loaded)).toBe(false)
      expect(await store.load(k, Date.now(), IDLE, false)).toBeUndefined()
    })

    it('lists the last load of a session as its lastSeenAt', async () => {
      const store = await target.createStore()
      const user = `u-${key().slice(0, 8)}`
      const k = key()
      const created = Date.now()
      await store.create(k, session({ userId: user, createdAt: created, lastSeenAt: created }), IDLE)
      await sleep(100)
      const touchedAt = Date.now()
      await store.load(k, touchedAt, IDLE, true)
      const [info] = await store.list(user, Date.now())
      expect(info?.createdAt).toBe(created)
      expect((info?.lastSeenAt ?? 0) > created).toBe(true)
    })

    it('keeps all of 50 concurrent updates to different fields of one session', async () => {
      const store = await target.createStore()
      const k = key()
      await store.create(k, session(), IDLE)
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) => store.update(k, { [`f${i}`]: i }, [], Date.now(), IDLE)),
      )
      expect(results.every(Boolean)).toBe(true)
      const data = (await store.load(k, Date.now(), IDLE, false))?.data ?? {}
      expect(Object.keys(data).length).toBe(50)
      expect(data['f49']).toBe(49)
    })

    it('keeps all of 50 concurrent updates made from one loaded base', async () => {
      const store = await target.createStore()
      const k = key()
      await store.create(k, session({ data: { kept: true } }), IDLE)
      const base = await store.load(k, Date.now(), IDLE, false)
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          store.update(k, { [`f${i}`]: i }, i % 10 === 0 ? ['kept'] : [], Date.now(), IDLE, base),
        ),
      )
      expect(results.every(Boolean)).toBe(true)
      const data = (await store.load(k, Date.now(), IDLE, false))?.data ?? {}
      expect(Object.keys(data).sort()).toEqual(Array.from({ length: 50 }, (_, i) => `f${i}`).sort())
    })

    it('answers many concurrent creates, loads, updates and destroys, each on its own session', async () => {
      const store = await target.createStore()
      const keys = Array.from({ length: 20 }, key)
      await Promise.all(keys.map((k, i) => store.create(k, session({ data: { n: String(i) } }), IDLE)))
      const loaded = await Promise.all(keys.map((k) => store.load(k, Date.now(), IDLE, true)))
      expect(loaded.map((s) => s?.data['n'])).toEqual(keys.map((_, i) => String(i)))
      const updated = await Promise.all(
        keys.map((k, i) => store.update(k, { m: String(i) }, [], Date.now(), IDLE)),
      )
      expect(updated.every(Boolean)).toBe(true)
      await Promise.all(keys.slice(10).map((k) => store.destroy(k)))
      const after = await Promise.all(keys.map((k) => store.load(k, Date.now(), IDLE, false)))
      expect(after.map((s) => s?.data['m'])).toEqual(keys.map((_, i) => (i < 10 ? String(i) : undefined)))
    })

    it('never brings back a missing or destroyed session through an update', async () => {
      const store = await target.createStore()
      const k = key()
      expect(await store.update(k, { a: '1' }, [], Date.now(), IDLE)).toBe(false)
      expect(await store.load(k, Date.now(), IDLE, false)).toBeUndefined()
      await store.create(k, session(), IDLE)
      await store.destroy(k)
      await store.destroy(k)
      expect(await store.update(k, { a: '1' }, [], Date.now(), IDLE)).toBe(false)
      expect(await store.load(k, Date.now(), IDLE, false)).toBeUndefined()
    })

    it('ends a session at its absolute timeout, however active', async () => {
      const store = await target.createStore()
      const k = key()
      const now = Date.now()
      await store.create(k, session({ expiresAt: now + 60_000 }), IDLE)
      expect((await store.load(k, now + 59_000, IDLE, true))?.expiresAt).toBe(now + 60_000)
      expect(await store.load(k, now + 60_001, IDLE, true)).toBeUndefined()
      expect(await store.update(k, { a: '1' }, [], now + 60_001, IDLE)).toBe(false)
    })

    it('ends a session unused for its idle timeout; loads with touch and updates keep it alive', async () => {
      const store = await target.createStore()
      const idle = 1000
      const [touched, updated, left] = [key(), key(), key()]
      for (const k of [touched, updated, left]) await store.create(k, session(), idle)
      // 2.5 idle timeouts of activity, a touch every 200 ms: the active ones must live through it.
      const until = Date.now() + 2500
      while (Date.now() < until) {
        await sleep(200)
        expect((await store.load(touched, Date.now(), idle, true))?.createdAt !== undefined).toBe(true)
        expect(await store.update(updated, { a: String(Date.now()) }, [], Date.now(), idle)).toBe(true)
      }
      expect(await store.load(left, Date.now(), idle, false)).toBeUndefined()
      await eventually(
        async () => (await store.load(touched, Date.now(), idle, false)) === undefined,
        'the idle timeout',
      )
    }, 15_000)

    it("lists a user's sessions and ends them all but one", async () => {
      const store = await target.createStore()
      const user = `u-${key().slice(0, 8)}`
      const keys = [key(), key(), key()]
      for (const k of keys) await store.create(k, session({ userId: user }), IDLE)
      await store.create(key(), session({ userId: `${user}-other` }), IDLE)
      const listed = (await store.list(user, Date.now())).map((i) => i.key).sort()
      expect(listed).toEqual([...keys].sort())
      await store.destroy(keys[0] as string)
      expect((await store.list(user, Date.now())).length).toBe(2)
      expect(await store.destroyUser(user, Date.now(), keys[1])).toBe(1)
      expect((await store.list(user, Date.now())).map((i) => i.key)).toEqual([keys[1]])
      expect(await store.load(keys[2] as string, Date.now(), IDLE, false)).toBeUndefined()
      expect((await store.list(`${user}-other`, Date.now())).length).toBe(1)
    })
  })
}
