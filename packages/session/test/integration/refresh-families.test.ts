import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll } from 'vitest'
import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import type { Tokens, TokensOptions } from '../../src/index'
import { createTokens } from '../../src/index'
import { RedisFamilies } from '../../src/tokens/families'
import { DeadlineSweep } from '@scalekit/internal'
import { AUDIENCE, ISSUER } from '../support/attacks'
import { edKey } from '../support/keys'
import { familiesSuite } from '../suite/families'

const keys = { keys: [edKey('k1')] }
const open: Tokens[] = []
const sweep = new DeadlineSweep()
let standalone: Redis
let cluster: Cluster
beforeAll(async () => {
  await requireServices('redis', 'redisCluster')
  standalone = new Redis(serviceUrls.redis)
  cluster = new Cluster(serviceUrls.redisClusterNodes.map((n) => ({ host: n.host, port: n.port })))
})
afterAll(async () => {
  await Promise.all(open.map((t) => t.close()))
  sweep.clear()
  standalone.disconnect()
  cluster.disconnect()
})

for (const mode of ['standalone', 'cluster'] as const) {
  const prefix = uniqueName(`fam_${mode}`)
  const client = (): Redis | Cluster => (mode === 'cluster' ? cluster : standalone)
  familiesSuite(`Redis ${mode}`, {
    families: () => new RedisFamilies(client(), prefix, sweep, 5000),
    tokens: (options: Partial<TokensOptions> = {}) => {
      const t = createTokens({
        issuer: ISSUER,
        audience: AUDIENCE,
        keys,
        redis: client(),
        prefix,
        ...options,
      })
      open.push(t)
      return t
    },
  })
}
