import { describe, expect, it } from 'vitest'
import { uniqueName } from '../src/names'

const VALID = /^[a-z][a-z0-9_]{0,47}$/

describe('uniqueName', () => {
  it('is a lowercase [a-z0-9_] name starting with a letter, at most 48 characters', () => {
    for (const label of [
      'cache',
      'Session Store',
      'queue-DLX.retry',
      '',
      '___',
      'ünïcødé',
      'x'.repeat(200),
    ]) {
      const name = uniqueName(label)
      expect(name).toMatch(VALID)
      expect(name.startsWith('sk_')).toBe(true)
    }
  })

  it('keeps the label readable and carries the pid', () => {
    const name = uniqueName('Session Store')
    expect(name).toMatch(new RegExp(`^sk_session_store_${process.pid.toString(36)}_[a-z0-9]+$`))
  })

  it('never repeats, even in a tight loop', () => {
    const names = Array.from({ length: 10_000 }, () => uniqueName('same'))
    expect(new Set(names).size).toBe(names.length)
  })
})
