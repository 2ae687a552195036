/**
 * Verify: raw jose `jwtVerify` with a local key (the floor) against `tokens.verify` without its cache
 * and with it (a client presenting the same token again), and the peers — fast-jwt 6.3 (without and
 * with its verified-token cache) and jsonwebtoken 9 (no EdDSA) — EdDSA, ES256 and HS256, one at a
 * time and 16 in flight. The ratios are taken within each round.
 */
import {
  createPrivateKey,
  createPublicKey,
  createSecretKey,
  generateKeyPairSync,
  randomBytes,
  sign,
} from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { createVerifier } from 'fast-jwt'
import jsonwebtoken from 'jsonwebtoken'
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
    const peerKey = nodeKey(jwk, alg)
    const contenders: VerifyContender[] = [
      { name: 'jose jwtVerify (floor)', floor: true, verify: (t) => jwtVerify(t, key, joseOptions) },
      { name: 'tokens.verify, no cache', verify: (t) => uncached.verify(t) },
      { name: 'tokens.verify, cached', verify: (t) => cached.verify(t) },
      ...peerVerifiers(alg, peerKey, opts.issuer),
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

/** The key as fast-jwt and jsonwebtoken take it: a PEM (fast-jwt) or a KeyObject (jsonwebtoken). */
function nodeKey(jwk: JWK, alg: (typeof ALGS)[number]): KeyObject {
  if (alg === 'HS256') return createSecretKey(Buffer.from(jwk.k as string, 'base64url'))
  const { d: _d, ...pub } = jwk
  return createPublicKey({ key: pub as import('node:crypto').JsonWebKey, format: 'jwk' })
}

/** fast-jwt without and with its cache, and jsonwebtoken (which has no EdDSA): sync verifiers. */
function peerVerifiers(alg: (typeof ALGS)[number], key: KeyObject, issuer: string): VerifyContender[] {
  const secretOrPem = alg === 'HS256' ? key.export() : (key.export({ format: 'pem', type: 'spki' }) as string)
  const fastOptions = { key: secretOrPem, algorithms: [alg], allowedIss: issuer, allowedAud: 'api' }
  const fast = createVerifier(fastOptions)
  const fastCached = createVerifier({ ...fastOptions, cache: true })
  const list: VerifyContender[] = [
    { name: 'fast-jwt, no cache', verify: (t) => Promise.resolve(fast(t)) },
    { name: 'fast-jwt, cached', verify: (t) => Promise.resolve(fastCached(t)) },
  ]
  if (alg !== 'EdDSA')
    list.push({
      name: 'jsonwebtoken',
      verify: (t) =>
        Promise.resolve(jsonwebtoken.verify(t, key, { algorithms: [alg], issuer, audience: 'api' })),
    })
  return list
}

/** A compact ES256 JWS built by hand, so any header (`crit`) or payload (no `exp`) can be made. */
function craftEs256(jwk: JWK, header: Record<string, unknown>, payload: Record<string, unknown>): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url')
  const input = `${b64(header)}.${b64(payload)}`
  const priv = createPrivateKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' })
  return `${input}.${sign('sha256', Buffer.from(input), { key: priv, dsaEncoding: 'ieee-p1363' }).toString('base64url')}`
}

/** What raw jose and the peers accept that the package refuses by default (ES256: all three have it). */
export async function runAttacks(): Promise<unknown> {
  const jwk = keyFor('ES256')
  const tokens = session.createTokens({ issuer: 'i', audience: 'a', keys: { keys: [jwk] } })
  const { d: _d, ...publicJwk } = jwk
  const key = await importJWK(publicJwk, 'ES256')
  const pub = nodeKey(jwk, 'ES256')
  const fast = createVerifier({
    key: pub.export({ format: 'pem', type: 'spki' }) as string,
    algorithms: ['ES256'],
    allowedIss: 'i',
    allowedAud: 'a',
  })
  const now = Math.floor(Date.now() / 1000)
  const header = { alg: 'ES256', kid: 'k', typ: 'at+jwt' }
  const base = { iss: 'i', aud: 'a', sub: 'u', jti: 'j', sid: 's', roles: [], iat: now }
  const cases = {
    'a 100 KB token': craftEs256(jwk, header, { ...base, exp: now + 60, pad: 'x'.repeat(100_000) }),
    'no exp': craftEs256(jwk, header, base),
    'an unknown crit header': craftEs256(
      jwk,
      { ...header, crit: ['x-unknown'], 'x-unknown': 1 },
      {
        ...base,
        exp: now + 60,
      },
    ),
  }
  const verdict = async (work: () => unknown): Promise<string> => {
    try {
      await work()
      return 'accepted'
    } catch (error) {
      const reason = (error as { reason?: string }).reason
      return reason === undefined ? 'refused' : `refused (${reason})`
    }
  }
  const rows: Record<string, Record<string, string>> = {}
  for (const [name, token] of Object.entries(cases)) {
    rows[name] = {
      jose: await verdict(() => jwtVerify(token, key, { algorithms: ['ES256'] })),
      'fast-jwt': await verdict(() => fast(token)),
      jsonwebtoken: await verdict(() => jsonwebtoken.verify(token, pub, { algorithms: ['ES256'] })),
      ours: await verdict(() => tokens.verify(token)),
    }
  }
  console.log('\nattacks: raw jose and the peers vs tokens.verify (defaults)')
  console.table(rows)
  await tokens.close()
  return rows
}
