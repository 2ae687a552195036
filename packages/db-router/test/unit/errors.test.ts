import { describe, expect, it } from 'vitest'
import { DbNoReplicaError, DbRouterError, DbRouterOptionsError, errors, httpStatusOf } from '../../src/index'

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

  it('lists every class in the errors map, each with its own ERR_DB_ code', () => {
    const classes = Object.values(errors)
    expect(classes).toHaveLength(10)
    const codes = classes.map((c) => c.code)
    expect(new Set(codes).size).toBe(codes.length)
    for (const [name, cls] of Object.entries(errors)) {
      expect(cls.name).toBe(name)
      expect(cls.code).toMatch(/^ERR_DB(_[A-Z_]+)?$/)
      expect(new cls('x')).toBeInstanceOf(DbRouterError)
    }
  })

  it('maps codes to HTTP statuses in one table', () => {
    expect(httpStatusOf(new DbNoReplicaError('x'))).toBe(503)
    expect(httpStatusOf('ERR_DB_INVALID_TOKEN')).toBe(400)
    expect(httpStatusOf('ERR_DB_PRIMARY_UNAVAILABLE')).toBe(503)
    expect(httpStatusOf('ERR_DB_TIMEOUT')).toBe(503)
    expect(httpStatusOf(new Error('plain'))).toBe(500)
    expect(httpStatusOf(null)).toBe(500)
  })
})
