import { Cluster, Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import type { Tokens, TokensOptions } from '../../src/index'
import { createTokens, SessionRevokedError } from '../../src/index'
import { AUDIENCE, ISSUER } from '../support/attacks'
import { edKey } from '../support/keys'

const key = edKey('k1')

describe.each(['standalone', 'cluster'] as const)('refresh rotation and revocation on Redis %s', (mode) => {
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

  it('rotates: each refresh returns a new pair and retires the presented token', async () => {
    const tokens = make({ refreshGrace: 0 })
    const first = await tokens.issue({ sub: 'rot', roles: ['user'] })
    const second = await tokens.refresh(first.refreshToken)
    expect(second.refreshToken).not.toBe(first.refreshToken)
    await expect(tokens.verify(second.accessToken)).resolves.toMatchObject({ sub: 'rot', roles: ['user'] })
    const third = await tokens.refresh(second.refreshToken, { roles: ['user', 'admin'] })
    await expect(tokens.verify(third.accessToken)).resolves.toMatchObject({ roles: ['user', 'admin'] })
  })

  it('reuse of a retired refresh token revokes the whole family, access tokens included', async () => {
    const tokens = make({ refreshGrace: 0 })
    const first = await tokens.issue({ sub: 'reuse' })
    const second = await tokens.refresh(first.refreshToken)
    const reused = await tokens.refresh(first.refreshToken).catch((e: unknown) => e)
    expect(reused).toBeInstanceOf(SessionRevokedError)
    expect(reused).toMatchObject({ code: 'ERR_SESSION_REVOKED', reason: 'reuse' })
    await expect(tokens.refresh(second.refreshToken)).rejects.toMatchObject({ reason: 'family' })
    await expect(tokens.verify(second.accessToken)).rejects.toMatchObject({ reason: 'family' })
    // Another login of the same user is not touched.
    const other = await tokens.issue({ sub: 'reuse' })
    await expect(tokens.refresh(other.refreshToken)).resolves.toBeDefined()
  })

  it('two concurrent refreshes within the grace window both succeed with the same successor', async () => {
    const tokens = make({ refreshGrace: '30s' })
    const first = await tokens.issue({ sub: 'tabs' })
    const [a, b] = await Promise.all([tokens.refresh(first.refreshToken), tokens.refresh(first.refreshToken)])
    const jti = (t: string): unknown =>
      (JSON.parse(Buffer.from(t.split('.')[1] as string, 'base64url').toString()) as { jti: string }).jti
    expect(jti(a.refreshToken)).toBe(jti(b.refreshToken))
    await expect(tokens.verify(a.accessToken)).resolves.toBeDefined()
    await expect(tokens.verify(b.accessToken)).resolves.toBeDefined()
    // The shared successor rotates on normally.
    await expect(tokens.refresh(b.refreshToken)).resolves.toBeDefined()
  })

  it('revokes one access token, one login (refresh token), or every token of a user', async () => {
    const tokens = make()
    const one = await tokens.issue({ sub: 'rv' })
    const two = await tokens.issue({ sub: 'rv' })
    await tokens.revoke({ token: one.accessToken })
    await expect(tokens.verify(one.accessToken)).rejects.toMatchObject({ reason: 'token' })
    await expect(tokens.verify(two.accessToken)).resolves.toBeDefined()
    await tokens.revoke({ token: two.refreshToken })
    await expect(tokens.verify(two.accessToken)).rejects.toMatchObject({ reason: 'family' })
    await expect(tokens.refresh(two.refreshToken)).rejects.toMatchObject({ reason: 'family' })
    const three = await tokens.issue({ sub: 'rv' })
    await tokens.revoke({ sub: 'rv' })
    await expect(tokens.verify(three.accessToken)).rejects.toMatchObject({ reason: 'user' })
    await expect(tokens.refresh(three.refreshToken)).rejects.toMatchObject({ reason: 'user' })
    // A login after "log out everywhere" works.
    const four = await tokens.issue({ sub: 'rv' })
    await expect(tokens.verify(four.accessToken)).resolves.toBeDefined()
    await expect(tokens.refresh(four.refreshToken)).resolves.toBeDefined()
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
