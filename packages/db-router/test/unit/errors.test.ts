import { describe, expect, it } from 'vitest'
import { DbRouterError, DbRouterOptionsError, errors } from '../../src/index'

describe('@scalekit/db-router errors', () => {
  it('carry a stable code, the cause, and the class name', () => {
    const cause = new Error('boom')
    const err = new DbRouterOptionsError('bad option', { cause })
    expect(err).toBeInstanceOf(DbRouterError)
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe('ERR_DB_INVALID_OPTIONS')
    expect(DbRouterOptionsError.code).toBe(err.code)
    expect(err.cause).toBe(cause)
    expect(err.name).toBe('DbRouterOptionsError')
  })

  it('lists every class in the errors map', () => {
    expect(Object.values(errors)).toEqual([DbRouterError, DbRouterOptionsError])
  })
})
