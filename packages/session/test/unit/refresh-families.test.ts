import { afterAll, describe, expect, it } from 'vitest'
import type { Tokens, TokensOptions } from '../../src/index'
import { createTokens, SessionOptionsError } from '../../src/index'
import { MemoryFamilies } from '../../src/tokens/memory-families'
import { AUDIENCE, ISSUER } from '../support/attacks'
import { edKey } from '../support/keys'
import { familiesSuite } from '../suite/families'

const keys = { keys: [edKey('k1')] }
const open: Tokens[] = []
afterAll(async () => {
  await Promise.all(open.map((t) => t.close()))
})

familiesSuite('memory', {
  families: () => new MemoryFamilies(),
  tokens: (options: Partial<TokensOptions> = {}) => {
    const t = createTokens({ issuer: ISSUER, audience: AUDIENCE, keys, store: 'memory', ...options })
    open.push(t)
    return t
  },
})

describe("store: 'memory'", () => {
  it('says where the state is in health()', () => {
    const memory = createTokens({ issuer: ISSUER, audience: AUDIENCE, keys, store: 'memory' })
    const stateless = createTokens({ issuer: ISSUER, audience: AUDIENCE, keys })
    open.push(memory, stateless)
    expect(memory.health()).toMatchObject({ status: 'ok', store: 'memory', stateless: false })
    expect(stateless.health()).toMatchObject({ status: 'ok', store: 'stateless', stateless: true })
  })

  it('refuses an unknown store, and store together with redis', () => {
    const redis = { evalsha: () => undefined } as unknown as TokensOptions['redis']
    const base = { issuer: ISSUER, audience: AUDIENCE, keys }
    expect(() => createTokens({ ...base, store: 'disk' as 'memory' })).toThrow(SessionOptionsError)
    expect(() => createTokens({ ...base, redis, store: 'memory' })).toThrow(/exclusive/)
  })
})
