import { createServer } from 'node:http'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRemoteVerifier, createTokens, SessionOptionsError } from '../../src/index'
import type { RemoteVerifier, RemoteVerifierOptions } from '../../src/index'
import * as ex from '../../src/adapters/express'
import * as fa from '../../src/adapters/fastify'
import { call, listening } from '../support/apps'
import type { App } from '../support/apps'
import { craft, edKey, nowSec } from '../support/keys'

/** An identity provider: tokens from createTokens, keys served by a JWKS endpoint this test starts and stops. */
const idpKey = edKey('idp-1')
const idp = createTokens({ issuer: 'https://idp.test', audience: 'api', keys: { keys: [idpKey] } })

type Mode = 'serve' | 'hang' | 'error'
/** A JWKS server: answers the key set, 500, or never answers (`hang`), as the test says. */
async function startJwks(): Promise<{ url: string; mode: { value: Mode }; stop: () => Promise<void> }> {
  const mode = { value: 'serve' as Mode }
  const server: Server = createServer((_req, res) => {
    if (mode.value === 'hang') return
    if (mode.value === 'error') {
      res.statusCode = 500
      res.end('down')
      return
    }
    void idp.publicKeys().then((jwks) => {
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify(jwks))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`
  return {
    url,
    mode,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}

/** The same two routes on Express and Fastify, authenticated by whatever verifier `verifierFor` builds. */
async function startApp(name: 'express' | 'fastify', verifier: RemoteVerifier): Promise<App> {
  if (name === 'express') {
    const app = express()
    app.get('/me', ex.authenticate({ tokens: verifier }), (req, res) => {
      res.json({ sub: req.auth?.sub, remote: req.auth?.scheme === 'bearer' && req.auth.remote })
    })
    app.get('/admin', ex.authenticate({ tokens: verifier, roles: ['admin'] }), (_req, res) => {
      res.json({ ok: true })
    })
    return listening(createServer(app))
  }
  const app = Fastify()
  await app.register(fa.sessionPlugin)
  app.get('/me', { onRequest: fa.authenticate({ tokens: verifier }) }, (request) => ({
    sub: request.auth?.sub,
    remote: request.auth?.scheme === 'bearer' && request.auth.remote,
  }))
  app.get('/admin', { onRequest: fa.authenticate({ tokens: verifier, roles: ['admin'] }) }, () => ({
    ok: true,
  }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() }
}

const bearer = (token: string): { headers: Record<string, string> } => ({
  headers: { authorization: `Bearer ${token}` },
})
const options = (jwksUrl: string, over: Partial<RemoteVerifierOptions> = {}): RemoteVerifierOptions => ({
  jwksUrl,
  issuer: 'https://idp.test',
  audience: 'api',
  algorithms: ['EdDSA'],
  typ: 'at+jwt',
  ...over,
})

afterAll(async () => {
  await idp.close()
})

describe.each(['express', 'fastify'] as const)('%s authenticate with a remote verifier', (name) => {
  let jwks: Awaited<ReturnType<typeof startJwks>>
  const apps: App[] = []
  const start = async (verifier: RemoteVerifier): Promise<App> => {
    const app = await startApp(name, verifier)
    apps.push(app)
    return app
  }
  beforeAll(async () => {
    jwks = await startJwks()
  })
  afterAll(async () => {
    await Promise.all(apps.map((a) => a.close()))
    await jwks.stop()
  })

  it("accepts the identity provider's tokens, with its roles, and refuses others with 401", async () => {
    const app = await start(createRemoteVerifier(options(jwks.url)))
    const user = await idp.issue({ sub: 'u1' })
    const admin = await idp.issue({ sub: 'a1', roles: ['admin'] })
    expect(await call(`${app.url}/me`, bearer(user.accessToken))).toMatchObject({
      status: 200,
      body: { sub: 'u1', remote: true },
    })
    expect((await call(`${app.url}/admin`, bearer(user.accessToken))).status).toBe(403)
    expect((await call(`${app.url}/admin`, bearer(admin.accessToken))).status).toBe(200)
    const now = nowSec()
    const forged = craft(
      { alg: 'EdDSA', kid: 'idp-1', typ: 'at+jwt' },
      { iss: 'https://idp.test', aud: 'api', sub: 'x', iat: now, exp: now + 60 },
      { key: edKey('idp-1') },
    )
    const refused = await call(`${app.url}/me`, bearer(forged))
    expect(refused).toMatchObject({
      status: 401,
      body: { code: 'ERR_SESSION_INVALID_TOKEN', reason: 'signature' },
    })
    expect(refused.headers['www-authenticate']).toContain('error="invalid_token"')
    const noSub = craft(
      { alg: 'EdDSA', kid: 'idp-1', typ: 'at+jwt' },
      { iss: 'https://idp.test', aud: 'api', iat: now, exp: now + 60 },
      { key: idpKey },
    )
    expect(await call(`${app.url}/me`, bearer(noSub))).toMatchObject({
      status: 401,
      body: { reason: 'claims' },
    })
  })

  it('answers 503 with Retry-After when the JWKS server answers 500, times out or is gone', async () => {
    const { accessToken } = await idp.issue({ sub: 'u2' })
    for (const mode of ['error', 'hang'] as const) {
      jwks.mode.value = mode
      // A fresh verifier: no key set cached yet.
      const app = await start(createRemoteVerifier(options(jwks.url, { timeout: '300ms' })))
      const reply = await call(`${app.url}/me`, bearer(accessToken))
      expect({ mode, status: reply.status, body: reply.body }).toEqual({
        mode,
        status: 503,
        body: { code: 'ERR_SESSION_KEYS_UNAVAILABLE' },
      })
      expect(reply.headers['retry-after']).toBe('1')
      expect(reply.headers['www-authenticate']).toBeUndefined()
    }
    jwks.mode.value = 'serve'
    const gone = await startJwks()
    await gone.stop()
    const app = await start(createRemoteVerifier(options(gone.url, { timeout: '2s' })))
    const reply = await call(`${app.url}/me`, bearer(accessToken))
    expect(reply).toMatchObject({ status: 503, body: { code: 'ERR_SESSION_KEYS_UNAVAILABLE' } })
    expect(reply.headers['retry-after']).toBe('2')
  })

  it('keeps verifying on the cached key set while the JWKS server is down', async () => {
    const own = await startJwks()
    const app = await start(createRemoteVerifier(options(own.url)))
    const { accessToken } = await idp.issue({ sub: 'u3' })
    expect((await call(`${app.url}/me`, bearer(accessToken))).status).toBe(200)
    await own.stop()
    expect(await call(`${app.url}/me`, bearer(accessToken))).toMatchObject({
      status: 200,
      body: { sub: 'u3' },
    })
  })
})

describe('authenticate options with a remote verifier', () => {
  it('refuses the service scheme (it needs createTokens) and a tokens option that verifies nothing', () => {
    const verifier = createRemoteVerifier(options('https://idp.test/jwks'))
    expect(() => ex.authenticate({ tokens: verifier, audience: 'ledger', schemes: ['service'] })).toThrow(
      SessionOptionsError,
    )
    expect(() => ex.authenticate({ tokens: {} as RemoteVerifier })).toThrow(
      /createTokens or createRemoteVerifier/,
    )
  })

  it('refuses a context option that is not a boolean', () => {
    const verifier = createRemoteVerifier(options('https://idp.test/jwks'))
    const context = 'no' as unknown as boolean
    expect(() => ex.authenticate({ tokens: verifier, context })).toThrow(SessionOptionsError)
    expect(() => fa.authenticate({ tokens: verifier, context })).toThrow(/context must be true or false/)
  })
})
