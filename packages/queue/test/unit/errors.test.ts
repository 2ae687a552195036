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
    expect(Object.values(errors)).toEqual([QueueError, QueueOptionsError])
  })
})
