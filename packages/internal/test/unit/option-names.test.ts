import { describe, expect, it } from 'vitest'
import { createChecks, onlyKnownOptions } from '../../src/index'

class TestOptionsError extends Error {}
const check = createChecks(TestOptionsError)

describe('onlyKnownOptions', () => {
  it('passes known names and refuses any other, naming it, its group and the name it resembles', () => {
    expect(() => {
      onlyKnownOptions(check, '', { ttl: 1, grace: 2 }, ['ttl', 'grace'])
    }).not.toThrow()
    expect(() => {
      onlyKnownOptions(check, '', { ttL: 1 }, ['ttl', 'grace'])
    }).toThrow(/^ttL is not an option \(did you mean ttl\?\); known: ttl, grace$/)
    expect(() => {
      onlyKnownOptions(check, 'health', { intervall: 1 }, ['interval'])
    }).toThrow(TestOptionsError)
    expect(() => {
      onlyKnownOptions(check, 'health', { intervall: 1 }, ['interval'])
    }).toThrow('health.intervall is not an option; known: interval')
  })
})
