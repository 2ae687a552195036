import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { createApiKeys, SessionApiKeyError, SessionArgumentError } from '../../src/index'

const refusal = async (promise: Promise<unknown>): Promise<string | undefined> =>
  promise.then(
    () => undefined,
    (e: unknown) => (e instanceof SessionApiKeyError ? e.reason : String(e)),
  )

describe('createApiKeys (memory)', () => {
  it('issues sk_<id>_<secret> keys that verify to their grant; the secret is never stored', async () => {
    const apiKeys = createApiKeys()
    const { key, info } = await apiKeys.issue({ owner: 'billing', scopes: ['invoices:read'] })
    expect(key).toMatch(/^sk_[A-Za-z0-9]{16}_[A-Za-z0-9_-]{43}$/)
    expect(key.startsWith(`sk_${info.id}_`)).toBe(true)
    const verified = await apiKeys.verify(key)
    expect(verified).toMatchObject({ id: info.id, owner: 'billing', scopes: ['invoices:read'] })
    expect(typeof verified.lastUsedAt).toBe('number')
    expect(JSON.stringify(verified)).not.toContain(key.slice(20))
    await apiKeys.close()
  })

  it('refuses a wrong secret, an unknown id, a malformed key, a revoked and an expired key by reason', async () => {
    const apiKeys = createApiKeys()
    const { key, info } = await apiKeys.issue({ owner: 'o' })
    expect(await refusal(apiKeys.verify(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`))).toBe(
      'secret',
    )
    expect(await refusal(apiKeys.verify(`sk_${'Z'.repeat(16)}_${key.slice(-43)}`))).toBe('unknown')
    expect(await refusal(apiKeys.verify('nope'))).toBe('malformed')
    expect(await refusal(apiKeys.verify(42 as never))).toBe('malformed')
    const short = await apiKeys.issue({ owner: 'o', expiresIn: 1 })
    await new Promise((resolve) => setTimeout(resolve, 5))
    expect(await refusal(apiKeys.verify(short.key))).toBe('expired')
    await apiKeys.revoke(info.id)
    expect(await refusal(apiKeys.verify(key))).toBe('revoked')
    await expect(apiKeys.revoke('bad id')).rejects.toBeInstanceOf(SessionArgumentError)
    await apiKeys.close()
  })

  it('rotates with overlap: the new key works, the old one until the overlap ends', async () => {
    const apiKeys = createApiKeys()
    const old = await apiKeys.issue({ owner: 'o', scopes: ['a'] })
    const next = await apiKeys.rotate(old.info.id, { overlap: '1h' })
    expect(next.info).toMatchObject({ owner: 'o', scopes: ['a'] })
    await expect(apiKeys.verify(next.key)).resolves.toBeDefined()
    await expect(apiKeys.verify(old.key)).resolves.toMatchObject({ id: old.info.id })
    const now = await apiKeys.rotate(next.info.id, { overlap: 0 })
    expect(await refusal(apiKeys.verify(next.key))).toBe('expired')
    await expect(apiKeys.verify(now.key)).resolves.toBeDefined()
    await apiKeys.close()
  })

  it('compares digests of the secret: secrets sharing a long prefix have unrelated digests (no early-exit leak)', () => {
    // verify() compares SHA-256(secret) with the stored digest through timingSafeEqual, so how many
    // leading characters of a guess are right says nothing about how many compared bytes match.
    const secret = 'a'.repeat(43)
    const guess = `${'a'.repeat(42)}b`
    const d1 = createHash('sha256').update(secret).digest()
    const d2 = createHash('sha256').update(guess).digest()
    let common = 0
    while (common < d1.length && d1[common] === d2[common]) common += 1
    expect(common).toBeLessThan(4)
  })
})
