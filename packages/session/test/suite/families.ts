import { randomUUID } from 'node:crypto'
import { sleep } from '@scalekit/test-utils'
import { describe, expect, it } from 'vitest'
import type { Tokens, TokensOptions } from '../../src/index'
import { SessionRevokedError } from '../../src/index'
import type { FamilyStore, Successor } from '../../src/tokens/families'

/** What a store hands the suite. */
export interface FamiliesTarget {
  /** The family store alone (memory, or Redis with a prefix of the test file's own). */
  families(): FamilyStore
  /** A token service on the same kind of state; the suite closes nothing, the caller does. */
  tokens(options?: Partial<TokensOptions>): Tokens
}

const successor = (now: number): Successor => ({
  jti: randomUUID(),
  iat: now / 1000,
  exp: Math.floor(now / 1000) + 3600,
})
const HOUR = 3_600_000
const jtiOf = (token: string): unknown =>
  (JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()) as { jti: string }).jti

/**
 * Refresh families (RFC 9700 rotation with reuse detection) and revocation: what the Redis script
 * and the memory store must answer alike. Store-level cases pass their own clock, so grace
 * boundaries are exact on both; token-level cases go through `createTokens`.
 */
export function familiesSuite(name: string, target: FamiliesTarget): void {
  describe(`refresh families: ${name}`, () => {
    it('rotates the current token, then the successor is current', async () => {
      const store = target.families()
      const family = randomUUID()
      const now = Date.now()
      const [a, b, c] = [successor(now), successor(now), successor(now)]
      await store.start(family, 'u', a, HOUR, now)
      expect(await store.rotate(family, a.jti, b, 0, HOUR, now)).toEqual({ outcome: 'rotated' })
      expect(await store.rotate(family, b.jti, c, 0, HOUR, now + 1)).toEqual({ outcome: 'rotated' })
    })

    it('a retired token within grace gets the current successor; at grace it revokes the family', async () => {
      const store = target.families()
      const family = randomUUID()
      const now = Date.now()
      const [a, b, c] = [successor(now), successor(now), successor(now)]
      await store.start(family, 'u', a, HOUR, now)
      await store.rotate(family, a.jti, b, 5000, HOUR, now)
      expect(await store.rotate(family, a.jti, c, 5000, HOUR, now + 4999)).toEqual({ outcome: 'grace', ...b })
      expect(await store.rotate(family, a.jti, c, 5000, HOUR, now + 5000)).toEqual({
        outcome: 'reused',
        retiredForMs: 5000,
      })
      expect(await store.rotate(family, b.jti, c, 5000, HOUR, now + 5001)).toEqual({ outcome: 'revoked' })
    })

    it('grace 0 is no grace: a retry in the same millisecond is a reuse', async () => {
      const store = target.families()
      const family = randomUUID()
      const now = Date.now()
      const [a, b, c] = [successor(now), successor(now), successor(now)]
      await store.start(family, 'u', a, HOUR, now)
      await store.rotate(family, a.jti, b, 0, HOUR, now)
      expect(await store.rotate(family, a.jti, c, 0, HOUR, now)).toEqual({
        outcome: 'reused',
        retiredForMs: 0,
      })
    })

    it('a token the family never had revokes it; an unknown family is unknown', async () => {
      const store = target.families()
      const family = randomUUID()
      const now = Date.now()
      const [a, b] = [successor(now), successor(now)]
      await store.start(family, 'u', a, HOUR, now)
      expect(await store.rotate(family, randomUUID(), b, 5000, HOUR, now)).toEqual({
        outcome: 'reused',
        retiredForMs: undefined,
      })
      expect(await store.rotate(family, a.jti, b, 5000, HOUR, now)).toEqual({ outcome: 'revoked' })
      expect(await store.rotate(randomUUID(), a.jti, b, 5000, HOUR, now)).toEqual({ outcome: 'unknown' })
    })

    it('end() revokes a family and leaves a missing one missing', async () => {
      const store = target.families()
      const [family, missing] = [randomUUID(), randomUUID()]
      const now = Date.now()
      const [a, b] = [successor(now), successor(now)]
      await store.start(family, 'u', a, HOUR, now)
      await store.end(family)
      await store.end(missing)
      expect(await store.rotate(family, a.jti, b, 0, HOUR, now)).toEqual({ outcome: 'revoked' })
      expect(await store.rotate(missing, a.jti, b, 0, HOUR, now)).toEqual({ outcome: 'unknown' })
    })

    it('a family ends its ttl after its last rotation', async () => {
      const store = target.families()
      const family = randomUUID()
      const [a, b] = [successor(Date.now()), successor(Date.now())]
      await store.start(family, 'u', a, 150, Date.now())
      await sleep(300) // past the ttl on both clocks: gone, whenever it was removed
      expect(await store.rotate(family, a.jti, b, 0, HOUR, Date.now())).toEqual({ outcome: 'unknown' })
    })

    it('of 10 concurrent rotations of one token, one rotates and 9 get its successor (atomic)', async () => {
      const store = target.families()
      const family = randomUUID()
      const now = Date.now()
      const a = successor(now)
      await store.start(family, 'u', a, HOUR, now)
      const nexts = Array.from({ length: 10 }, () => successor(now))
      const results = await Promise.all(nexts.map((n) => store.rotate(family, a.jti, n, 10_000, HOUR, now)))
      const rotated = results.flatMap((r, i) => (r.outcome === 'rotated' ? [nexts[i]] : []))
      expect(rotated.length).toBe(1)
      expect(results.filter((r) => r.outcome === 'grace')).toEqual(
        Array.from({ length: 9 }, () => ({ outcome: 'grace', ...rotated[0] })),
      )
    })

    it('tokens: each refresh returns a new pair and retires the presented token', async () => {
      const tokens = target.tokens({ refreshGrace: 0 })
      const first = await tokens.issue({ sub: 'rot', roles: ['user'] })
      const second = await tokens.refresh(first.refreshToken)
      expect(second.refreshToken).not.toBe(first.refreshToken)
      const third = await tokens.refresh(second.refreshToken, { roles: ['user', 'admin'] })
      await expect(tokens.verify(third.accessToken)).resolves.toMatchObject({ roles: ['user', 'admin'] })
    })

    it('tokens: reuse of a retired refresh token revokes the whole family, access tokens included', async () => {
      const tokens = target.tokens({ refreshGrace: 0 })
      const first = await tokens.issue({ sub: 'reuse', roles: ['user'] })
      const second = await tokens.refresh(first.refreshToken)
      await expect(tokens.verify(second.accessToken)).resolves.toMatchObject({
        sub: 'reuse',
        roles: ['user'],
      })
      const reused = await tokens.refresh(first.refreshToken).catch((e: unknown) => e)
      expect(reused).toBeInstanceOf(SessionRevokedError)
      expect(reused).toMatchObject({ code: 'ERR_SESSION_REVOKED', reason: 'reuse' })
      await expect(tokens.refresh(second.refreshToken)).rejects.toMatchObject({ reason: 'family' })
      await expect(tokens.verify(second.accessToken)).rejects.toMatchObject({ reason: 'family' })
      // Another login of the same user is not touched.
      const other = await tokens.issue({ sub: 'reuse' })
      await expect(tokens.refresh(other.refreshToken)).resolves.toBeDefined()
    })

    it('tokens: two concurrent refreshes within the grace window get the same successor', async () => {
      const tokens = target.tokens({ refreshGrace: '30s' })
      const first = await tokens.issue({ sub: 'tabs' })
      const [a, b] = await Promise.all([
        tokens.refresh(first.refreshToken),
        tokens.refresh(first.refreshToken),
      ])
      expect(jtiOf(a.refreshToken)).toBe(jtiOf(b.refreshToken))
      await expect(tokens.verify(a.accessToken)).resolves.toBeDefined()
      await expect(tokens.verify(b.accessToken)).resolves.toBeDefined()
      await expect(tokens.refresh(b.refreshToken)).resolves.toBeDefined()
    })

    it('tokens: revokes one access token, one login, or every token of a user', async () => {
      const tokens = target.tokens()
      expect(tokens.health().stateless).toBe(false)
      const one = await tokens.issue({ sub: 'rv' })
      const two = await tokens.issue({ sub: 'rv' })
      await tokens.revoke({ token: one.accessToken })
      await expect(tokens.verify(one.accessToken)).rejects.toMatchObject({ reason: 'token' })
      await expect(tokens.verify(two.accessToken)).resolves.toBeDefined()
      await tokens.revoke({ token: two.refreshToken })
      await expect(tokens.verify(two.accessToken)).rejects.toMatchObject({ reason: 'family' })
      await expect(tokens.refresh(two.refreshToken)).rejects.toMatchObject({ reason: 'family' })
      const three = await tokens.issue({ sub: 'rv' })
      await tokens.revoke({ sub: 'rv' })
      await expect(tokens.verify(three.accessToken)).rejects.toMatchObject({ reason: 'user' })
      await expect(tokens.refresh(three.refreshToken)).rejects.toMatchObject({ reason: 'user' })
      // A login after "log out everywhere" works.
      const four = await tokens.issue({ sub: 'rv' })
      await expect(tokens.verify(four.accessToken)).resolves.toBeDefined()
      await expect(tokens.refresh(four.refreshToken)).resolves.toBeDefined()
    })
  })
}
