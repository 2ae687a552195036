import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import type { Tokens, TokensOptions } from '../../src/index'
import { createTokens, SessionRevokedError } from '../../src/index'
import { AUDIENCE, ISSUER } from '../support/attacks'
import { edKey } from '../support/keys'

const key = edKey('k1')

// Rotation, reuse, grace and revocation on one instance: test/suite/families.ts, on memory and Redis.
describe.each(['standalone', 'cluster'] as const)('revocation across instances on Redis %s', (mode) => {
  let redis: Redis | Cluster
  const prefix = uniqueName(`tok_${mode}`)
  const open: Tokens[] = []
  const make = (options: Partial<TokensOptions> = {}): Tokens => {
    const t = createTokens({
      issuer: ISSUER,
      audience: AUDIENCE,
      keys: { keys: [key] },
      redis,
      prefix,
      ...options,
    })
    open.push(t)
    return t
  }

  beforeAll(async () => {
    await requireServices(mode === 'cluster' ? 'redisCluster' : 'redis')
    redis =
      mode === 'cluster'
        ? new Cluster(serviceUrls.redisClusterNodes.map((n) => ({ host: n.host, port: n.port })))
        : new Redis(serviceUrls.redis)
  })
  afterAll(async () => {
    await Promise.all(open.map((t) => t.close()))
    redis.disconnect()
  })

  it('a revocation on one instance is enforced on another within revocationSync (pushed)', async () => {
    const a = make({ revocationSync: '2s' })
    const b = make({ revocationSync: '2s' })
    await waitFor(() => b.health().revocation?.subscribed && b.health().revocation?.synced, {
      message: 'b subscribed',
    })
    const pair = await a.issue({ sub: 'everywhere' })
    await expect(b.verify(pair.accessToken)).resolves.toBeDefined()
    await a.revoke({ sub: 'everywhere' })
    await waitFor(
      () =>
        b.verify(pair.accessToken).then(
          () => false,
          (e: unknown) => e instanceof SessionRevokedError,
        ),
      {
        timeout: 2000,
        message: 'b refuses the token within revocationSync (2 s)',
      },
    )
  })

  it('a revocation whose push was lost still arrives within revocationSync (version check)', async () => {
    const a = make({ revocationSync: '300ms' })
    await waitFor(() => a.health().revocation?.synced, { message: 'a synced' })
    const pair = await a.issue({ sub: 'lost-push' })
    const tag = `{${prefix}:rev}`
    // What a revocation writes, without the PUBLISH: as if the push was lost on a reconnect.
    await redis.eval(
      `redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) redis.call('INCR', KEYS[2]) return 1`,
      2,
      `${tag}:epochs`,
      `${tag}:version`,
      'lost-push',
      Date.now(),
    )
    await expect(a.verify(pair.accessToken)).resolves.toBeDefined()
    await waitFor(
      () =>
        a.verify(pair.accessToken).then(
          () => false,
          (e: unknown) => e instanceof SessionRevokedError,
        ),
      {
        timeout: 1500,
        message: 'the version check reloads the revocations',
      },
    )
  })
})
