import { describe, expect, it } from 'vitest'
import { SessionError, SessionOptionsError, errors } from '../../src/index'

describe('@scalekit/session errors', () => {
  it('carry a stable code, the cause, and the class name', () => {
    const cause = new Error('boom')
    const err = new SessionOptionsError('bad option', { cause })
    expect(err).toBeInstanceOf(SessionError)
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe('ERR_SESSION_INVALID_OPTIONS')
    expect(SessionOptionsError.code).toBe(err.code)
    expect(err.cause).toBe(cause)
    expect(err.name).toBe('SessionOptionsError')
  })

  it('lists every class in the errors map', () => {
    expect(Object.values(errors)).toEqual([SessionError, SessionOptionsError])
  })
})
