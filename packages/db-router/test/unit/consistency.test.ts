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
