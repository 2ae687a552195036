import { describe, expect, it } from 'vitest'
import { createSessions, SessionArgumentError, SessionOptionsError } from '../../src/index'

describe('createSessions (memory store)', () => {
  it('creates a session with a 256-bit id and loads it; ids are never what the store keys by', async () => {
    const sessions = createSessions()
    const s = await sessions.create({ data: { cart: ['a'] } })
    expect(s.id).toMatch(/^[A-Za-z0-9_-]{43}$/)
    expect(sessions.handleOf(s.id)).not.toBe(s.id)
    expect((await sessions.load(s.id))?.data).toEqual({ cart: ['a'] })
    expect(await sessions.load('x'.repeat(43))).toBeUndefined()
    expect(await sessions.load('not an id')).toBeUndefined()
    await sessions.close()
  })

  it('updates fields independently and removes the ones set to undefined', async () => {
    const sessions = createSessions()
    const s = await sessions.create({ data: { a: 1, b: 2 } })
    expect(await sessions.update(s.id, { b: undefined, c: { deep: true } })).toBe(true)
    expect((await sessions.load(s.id))?.data).toEqual({ a: 1, c: { deep: true } })
    await expect(sessions.update(s.id, { f: (() => 1) as never })).rejects.toBeInstanceOf(
      SessionArgumentError,
    )
    await expect(sessions.update(s.id, { big: BigInt(1) as never })).rejects.toBeInstanceOf(
      SessionArgumentError,
    )
    await sessions.close()
  })

  it('regenerate() moves the data to a new id and the old (pre-login) id is useless', async () => {
    const sessions = createSessions()
    const visitor = await sessions.create({ data: { cart: ['book'] } })
    const loggedIn = await sessions.regenerate(visitor.id, { userId: 'alice' })
    expect(loggedIn?.id).not.toBe(visitor.id)
    expect(loggedIn).toMatchObject({ userId: 'alice', data: { cart: ['book'] } })
    expect(await sessions.load(visitor.id)).toBeUndefined()
    expect(await sessions.update(visitor.id, { admin: true })).toBe(false)
    expect(await sessions.regenerate(visitor.id)).toBeUndefined()
    await sessions.close()
  })

  it('lists a user’s sessions, revokes one by handle and all but the current one', async () => {
    const sessions = createSessions()
    const [a, b, c] = await Promise.all([1, 2, 3].map(() => sessions.create({ userId: 'bob' })))
    const mallory = await sessions.create({ userId: 'mallory' })
    expect((await sessions.list('bob')).map((i) => i.handle).sort()).toEqual(
      [a, b, c].map((s) => sessions.handleOf(s?.id as string)).sort(),
    )
    expect(await sessions.revoke('mallory', sessions.handleOf(a?.id as string))).toBe(false)
    expect(await sessions.revoke('bob', sessions.handleOf(a?.id as string))).toBe(true)
    expect(await sessions.load(a?.id as string)).toBeUndefined()
    expect(await sessions.revokeAll('bob', { except: c?.id as string })).toBe(1)
    expect(await sessions.load(b?.id as string)).toBeUndefined()
    expect(await sessions.load(c?.id as string)).toBeDefined()
    expect(await sessions.load(mallory.id)).toBeDefined()
    await sessions.close()
  })

  it('refuses bad options and arguments with coded errors', async () => {
    expect(() => createSessions({ idleTimeout: '1h', absoluteTimeout: '30m' })).toThrow(SessionOptionsError)
    expect(() => createSessions({ redis: {} as never })).toThrow(/redis must be an ioredis/)
    expect(() => createSessions({ store: {} as never })).toThrow(/store must be a SessionStore/)
    expect(() => createSessions({ rolling: 'yes' as never })).toThrow(/rolling/)
    const sessions = createSessions()
    await expect(sessions.create({ userId: '' })).rejects.toBeInstanceOf(SessionArgumentError)
    await expect(sessions.list(42 as never)).rejects.toBeInstanceOf(SessionArgumentError)
    await sessions.close()
    await expect(sessions.create()).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' })
    expect(sessions.health()).toMatchObject({ status: 'closed', store: 'memory' })
  })
})
