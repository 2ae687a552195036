import { describe, expect, it } from 'vitest'
import { CacheError, CacheOptionsError, errors } from '../../src/index'

describe('@scalekit/cache errors', () => {
  it('carry a stable code, the cause, and the class name', () => {
    const cause = new Error('boom')
    const err = new CacheOptionsError('bad option', { cause })
    expect(err).toBeInstanceOf(CacheError)
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe('ERR_CACHE_INVALID_OPTIONS')
    expect(CacheOptionsError.code).toBe(err.code)
    expect(err.cause).toBe(cause)
    expect(err.name).toBe('CacheOptionsError')
  })

  it('lists every class in the errors map', () => {
    expect(Object.values(errors)).toContain(CacheOptionsError)
    for (const cls of Object.values(errors)) expect(new cls("x").code).toBe(cls.code)
  })
})
