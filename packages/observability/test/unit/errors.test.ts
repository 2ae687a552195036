import { describe, expect, it } from 'vitest'
import { ObservabilityError, ObservabilityOptionsError, errors } from '../../src/index'

describe('@scalekit/observability errors', () => {
  it('carry a stable code, the cause, and the class name', () => {
    const cause = new Error('boom')
    const err = new ObservabilityOptionsError('bad option', { cause })
    expect(err).toBeInstanceOf(ObservabilityError)
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe('ERR_OBSERVABILITY_INVALID_OPTIONS')
    expect(ObservabilityOptionsError.code).toBe(err.code)
    expect(err.cause).toBe(cause)
    expect(err.name).toBe('ObservabilityOptionsError')
  })

  it('lists every class in the errors map', () => {
    expect(Object.values(errors)).toEqual([ObservabilityError, ObservabilityOptionsError])
  })
})
