import { describe, expect, it } from 'vitest'
import { QueueError, QueueOptionsError, errors } from '../../src/index'

describe('@scalekit/queue errors', () => {
  it('carry a stable code, the cause, and the class name', () => {
    const cause = new Error('boom')
    const err = new QueueOptionsError('bad option', { cause })
    expect(err).toBeInstanceOf(QueueError)
    expect(err).toBeInstanceOf(Error)
    expect(err.code).toBe('ERR_QUEUE_INVALID_OPTIONS')
    expect(QueueOptionsError.code).toBe(err.code)
    expect(err.cause).toBe(cause)
    expect(err.name).toBe('QueueOptionsError')
  })

  it('lists every class in the errors map', () => {
    expect(Object.values(errors)).toContain(QueueOptionsError)
    for (const [name, cls] of Object.entries(errors)) {
      expect(cls.name).toBe(name)
      expect(cls.code).toMatch(/^ERR_QUEUE(_[A-Z_]+)?$/)
      expect(Object.getPrototypeOf(cls.prototype) === Error.prototype || cls.prototype instanceof QueueError).toBe(true)
    }
    expect(new Set(Object.values(errors).map((c) => c.code)).size).toBe(Object.keys(errors).length)
  })
})
