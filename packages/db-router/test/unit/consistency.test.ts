import { describe, expect, it } from 'vitest'
import { Scope } from '../../src/consistency/scope'
import { decodeToken, encodeToken } from '../../src/consistency/token'
import { LsnHistory } from '../../src/internal/lsn-history'
import { formatLsn, parseLsn, settleInsertLsn } from '../../src/internal/lsn'

const secret = [new Uint8Array(32).fill(7)]

describe('LSNs', () => {
  it('parse and format pg_lsn text exactly', () => {
    expect(parseLsn('0/0')).toBe(0n)
    expect(parseLsn('16/B374D848')).toBe((0x16n << 32n) | 0xb374d848n)
    expect(formatLsn(parseLsn('16/B374D848'))).toBe('16/B374D848')
    expect(() => parseLsn('nope')).toThrow(TypeError)
  })

  it('map an insert position just past a page header back to the page boundary', () => {
    const seg = 16n * 1024n * 1024n
    expect(settleInsertLsn(parseLsn('0/B000028'), seg, 8192n)).toBe(parseLsn('0/B000000'))
    expect(settleInsertLsn(parseLsn('0/B002018'), seg, 8192n)).toBe(parseLsn('0/B002000'))
    expect(settleInsertLsn(parseLsn('0/B002028'), seg, 8192n)).toBe(parseLsn('0/B002028'))
    expect(settleInsertLsn(parseLsn('0/B0020F0'), seg, 8192n)).toBe(parseLsn('0/B0020F0'))
  })
})

describe('consistency tokens', () => {
  it('round-trip unsigned and signed', () => {
    expect(decodeToken(encodeToken(12345n, undefined), undefined)).toBe(12345n)
    const signed = encodeToken(12345n, secret)
    expect(signed).toMatch(/^1\.3039\.[\w-]{43}$/)
    expect(decodeToken(signed, secret)).toBe(12345n)
  })

  it('refuse malformed, unsigned (with a secret), forged and re-targeted tokens with ERR_DB_INVALID_TOKEN', () => {
    const signed = encodeToken(12345n, secret)
    for (const bad of ['', 'x', '2.10', '1.', '1.zz', '1.10.short', `${signed}x`, '1.' + 'f'.repeat(17)]) {
      expect(() => decodeToken(bad, undefined), bad).toThrow(
        expect.objectContaining({ code: 'ERR_DB_INVALID_TOKEN' }),
      )
    }
    expect(() => decodeToken('1.3039', secret)).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_TOKEN' }),
    )
    const [, , sig] = signed.split('.')
    expect(() => decodeToken(`1.ffffff.${sig ?? ''}`, secret)).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_TOKEN' }),
    )
    expect(() => decodeToken(signed, [new Uint8Array(32).fill(8)])).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_TOKEN' }),
    )
  })
})

describe('signing keys rotate', () => {
  it('the first key signs, every key verifies; a key dropped from the list no longer verifies', () => {
    const [oldKey, newKey] = [new Uint8Array(32).fill(1), new Uint8Array(32).fill(2)]
    const before = encodeToken(77n, [oldKey])
    const during = [newKey, oldKey]
    expect(decodeToken(before, during)).toBe(77n)
    const after = encodeToken(77n, during)
    expect(after).not.toBe(before)
    expect(decodeToken(after, [newKey])).toBe(77n)
    expect(() => decodeToken(before, [newKey])).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_TOKEN' }),
    )
  })
})

describe('scopes', () => {
  it('only move forward, propagate to the enclosing scope, and wait for pending captures', async () => {
    const parent = new Scope(10n)
    const child = new Scope(10n, parent)
    child.advance(5n)
    expect(child.lsn).toBe(10n)
    child.advance(20n)
    expect(child.lsn).toBe(20n)
    expect(parent.lsn).toBe(20n)
    let release!: () => void
    child.track(
      new Promise<void>((resolve) => {
        release = resolve
      }).then(() => {
        child.advance(30n)
      }),
    )
    expect(child.busy).toBe(true)
    const settled = child.settled()
    release()
    await settled
    expect(child.lsn).toBe(30n)
    expect(child.busy).toBe(false)
    child.track(Promise.reject(new Error('capture failed')))
    await child.settled()
  })
})

describe('lag in seconds from the primary position history', () => {
  it('is 0 for a caught-up replica however long the primary has been idle (no timestamp trap)', () => {
    const h = new LsnHistory(100)
    h.push(0, 1000n)
    expect(h.secondsBehind(1000n, 60_000)).toBe(0)
  })

  it('is the age of the oldest primary position the replica has not replayed', () => {
    const h = new LsnHistory(100)
    h.push(0, 1000n)
    h.push(1000, 2000n)
    h.push(2000, 3000n)
    expect(h.secondsBehind(1500n, 5000)).toBe(4)
    expect(h.secondsBehind(2500n, 5000)).toBe(3)
    expect(h.secondsBehind(3000n, 5000)).toBe(0)
  })
})

describe('the primary position history (issue 12, defect 14)', () => {
  it('says when the primary was first seen at or past a position, and keeps positions moving forward', () => {
    const h = new LsnHistory(100)
    h.push(1000, 10n)
    h.push(2000, 20n)
    h.push(1500, 15n) // behind the last: dropped
    h.push(1900, 30n) // a later position seen "earlier": taken as reached at the last time
    expect(h.latest).toBe(30n)
    expect(h.reachedAt(5n)).toBe(1000)
    expect(h.reachedAt(15n)).toBe(2000)
    expect(h.reachedAt(30n)).toBe(2000)
    expect(h.reachedAt(31n)).toBeUndefined()
  })

  it('keeps at most one sample per resolution and a bounded number, whatever the write rate', () => {
    const h = new LsnHistory(50, 10)
    for (let i = 1; i <= 10_000; i++) h.push(i, BigInt(i))
    expect(h.latest).toBe(10_000n)
    // 10 000 ms of history at 10 ms resolution, at most 2 × 50 samples kept: the oldest are gone.
    expect(h.reachedAt(1n)).toBeGreaterThan(9000)
    expect(h.secondsBehind(9_950n, 10_000)).toBeLessThan(0.1)
    expect(h.secondsBehind(10_000n, 10_000)).toBe(0)
  })
})

describe('a scope given a token ahead of the primary', () => {
  it('is clamped (with the scopes it is nested in), never below what it captured itself', () => {
    const parent = new Scope(0xffffffffffffffffn)
    const child = new Scope(parent.lsn, parent)
    child.advance(100n)
    expect(child.captured).toBe(100n)
    child.clamp(50n)
    expect(child.lsn).toBe(100n)
    expect(parent.lsn).toBe(100n)
    const other = new Scope(0xffffffffffffffffn)
    other.clamp(500n)
    expect(other.lsn).toBe(500n)
    expect(other.captured).toBe(0n)
  })
})
