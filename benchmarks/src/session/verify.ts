/**
 * Verify: raw jose `jwtVerify` with a local key (the floor) against `tokens.verify` without its cache
 * and with it (a client presenting the same token again), EdDSA, ES256 and HS256, one at a time and
 * 16 in flight. The ratios are taken within each round.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import type { JWK } from 'jose'
import { importJWK, jwtVerify } from 'jose'
import type { Contender } from '../harness'
import { interleave, printSummaries, timeConcurrent, timeSequential } from '../harness'
import { session } from './peers'

const ALGS = ['EdDSA', 'ES256', 'HS256'] as const

function keyFor(alg: (typeof ALGS)[number]): JWK {
  if (alg === 'HS256') return { kty: 'oct', k: randomBytes(32).toString('base64url'), kid: 'k', alg }
  const { privateKey } =
    alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: 'k', alg }
}

interface VerifyContender extends Contender {
  readonly verify: (token: string) => Promise<unknown>
}

export async function runVerify(quick: boolean): Promise<unknown> {
  const ms = quick ? 200 : 1000
  const rounds = quick ? 1 : 5
  const results: Record<string, unknown> = {}
  for (const alg of ALGS) {
    const jwk = keyFor(alg)
    const opts = { issuer: 'https://auth.bench', audience: 'api', keys: { keys: [jwk] } }
    const uncached = session.createTokens({ ...opts, cacheSize: 0 })
    const cached = session.createTokens(opts)
    const tokens = await Promise.all(Array.from({ length: 64 }, (_, i) => uncached.issue({ sub: `u${i}` })))
    const access = tokens.map((t) => t.accessToken)
    const { d: _d, ...publicJwk } = jwk
    const key = await importJWK(alg === 'HS256' ? jwk : publicJwk, alg)
    const joseOptions = { algorithms: [alg], issuer: opts.issuer, audience: 'api', typ: 'at+jwt' }
    const contenders: VerifyContender[] = [
      { name: 'jose jwtVerify (floor)', floor: true, verify: (t) => jwtVerify(t, key, joseOptions) },
      { name: 'tokens.verify, no cache', verify: (t) => uncached.verify(t) },
      { name: 'tokens.verify, cached', verify: (t) => cached.verify(t) },
    ]
    let n = 0
    const next = (): string => access[n++ % access.length] as string
    const sequential = await interleave(contenders, rounds, (c) =>
      timeSequential(() => c.verify(next()), ms, 8),
    )
    printSummaries(`verify ${alg}, one at a time`, sequential)
    const inFlight = await interleave(contenders, rounds, (c) =>
      timeConcurrent(() => c.verify(next()), 16, ms),
    )
    printSummaries(`verify ${alg}, 16 in flight`, inFlight)
    results[alg] = { sequential, inFlight }
    await Promise.all([uncached.close(), cached.close()])
  }
  return results
}

/** What jose alone accepts that the package refuses by default. */
export async function runAttacks(): Promise<unknown> {
  const jwk = keyFor('EdDSA')
  const tokens = session.createTokens({ issuer: 'i', audience: 'a', keys: { keys: [jwk] } })
  const { d: _d, ...publicJwk } = jwk
  const key = await importJWK(publicJwk, 'EdDSA')
  const { SignJWT } = await import('jose')
  const priv = await importJWK(jwk, 'EdDSA')
  const now = Math.floor(Date.now() / 1000)
  const base = { sub: 'u', jti: 'j', sid: 's', roles: [], iat: now }
  const sign = (payload: Record<string, unknown>): Promise<string> =>
    new SignJWT(payload)
      .setProtectedHeader({ alg: 'EdDSA', kid: 'k', typ: 'at+jwt' })
      .setIssuer('i')
      .setAudience('a')
      .sign(priv)
  const cases = {
    'a 100 KB token': await sign({ ...base, exp: now + 60, pad: 'x'.repeat(100_000) }),
    'no exp': await sign(base),
  }
  const rows: Record<string, { jose: string; ours: string }> = {}
  for (const [name, token] of Object.entries(cases)) {
    const jose = await jwtVerify(token, key, { algorithms: ['EdDSA'] }).then(
      () => 'accepted',
      () => 'refused',
    )
    const ours = await tokens.verify(token).then(
      () => 'accepted',
      (e: unknown) => `refused (${(e as { reason?: string }).reason ?? ''})`,
    )
    rows[name] = { jose, ours }
  }
  console.log('\nattacks: raw jose vs tokens.verify (defaults)')
  console.table(rows)
  await tokens.close()
  return rows
}
