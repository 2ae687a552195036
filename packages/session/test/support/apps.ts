import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import express from 'express'
import Fastify from 'fastify'
import type { FastifyInstance } from 'fastify'
import { currentAuth, currentSession } from '../../src/index'
import type { ApiKeys, Sessions, Tokens } from '../../src/index'
import * as ex from '../../src/adapters/express'
import * as fa from '../../src/adapters/fastify'

/**
 * Node refuses request headers over 16 KB with 431 before any app code runs; the test servers take
 * more, so that the package's own limit (maxTokenSize) is what refuses a 100 KB token.
 */
export const MAX_HEADER_SIZE: number = 256 * 1024

export const COOKIE_SECRET = 'a-test-secret-of-at-least-32-characters!'

export interface Deps {
  readonly tokens: Tokens
  readonly sessions: Sessions
  readonly apiKeys: ApiKeys
}

/** A running app and how to stop it. */
export interface App {
  readonly url: string
  close(): Promise<void>
}

/** The same routes on Express and on Fastify, each through the package's adapter. */
export async function startExpress(deps: Deps): Promise<App> {
  const { tokens, sessions, apiKeys } = deps
  const app = express()
  const sess = ex.session(sessions, { cookie: { secret: COOKIE_SECRET } })
  app.get('/me', ex.authenticate({ tokens }), (req, res) => {
    res.json({ sub: req.auth?.sub, fromContext: currentAuth()?.sub })
  })
  app.get('/me-lean', ex.authenticate({ tokens, context: false }), (req, res) => {
    res.json({ sub: req.auth?.sub, fromContext: currentAuth()?.sub ?? null })
  })
  app.get('/admin', ex.authenticate({ tokens }), ex.requireRoles('admin'), (_req, res) => {
    res.json({ ok: true })
  })
  app.get(
    '/service',
    ex.authenticate({ tokens, audience: 'ledger', schemes: ['service'], scopes: ['ledger:write'] }),
    (req, res) => {
      res.json({ sub: req.auth?.sub, scheme: req.auth?.scheme })
    },
  )
  app.get('/key', ex.authenticate({ apiKeys, scopes: ['read'] }), (req, res) => {
    res.json({ sub: req.auth?.sub, scheme: req.auth?.scheme })
  })
  app.get('/visit', sess, async (req, res) => {
    const s = req.serverSession
    const visits = Number(s?.get('visits') ?? 0) + 1
    await s?.set({ visits })
    res.json({ visits, userId: s?.userId ?? null, fromContext: currentSession() === s })
  })
  app.post('/login', sess, async (req, res) => {
    await req.serverSession?.regenerate({ userId: 'alice' })
    res.json({ ok: true })
  })
  app.post('/field/:i', sess, async (req, res) => {
    await req.serverSession?.set({ [`f${req.params['i']}`]: Number(req.params['i']) })
    res.json({ ok: true })
  })
  app.get('/whoami', sess, (req, res) => {
    res.json({ userId: req.serverSession?.userId ?? null, data: req.serverSession?.data ?? {} })
  })
  app.post('/logout', sess, async (req, res) => {
    await req.serverSession?.destroy()
    res.json({ ok: true })
  })
  app.get(
    '/private',
    ex.session(sessions, { cookie: { secret: COOKIE_SECRET }, required: true }),
    (_req, res) => {
      res.json({ ok: true })
    },
  )
  return listening(createServer({ maxHeaderSize: MAX_HEADER_SIZE }, app))
}

/** Starts `server` on a free local port: its base URL, and a close that drops open connections first. */
export async function listening(server: Server): Promise<App> {
  await new Promise<void>((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve()
    })
  })
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => {
          resolve()
        })
      }),
  }
}

export async function startFastify(deps: Deps): Promise<App> {
  const { tokens, sessions, apiKeys } = deps
  const app: FastifyInstance = Fastify({ http: { maxHeaderSize: MAX_HEADER_SIZE } })
  await app.register(fa.sessionPlugin)
  const sess = fa.session(sessions, { cookie: { secret: COOKIE_SECRET } })
  app.get('/me', { onRequest: fa.authenticate({ tokens }) }, (request) => ({
    sub: request.auth?.sub,
    fromContext: currentAuth()?.sub,
  }))
  app.get('/me-lean', { onRequest: fa.authenticate({ tokens, context: false }) }, (request) => ({
    sub: request.auth?.sub,
    fromContext: currentAuth()?.sub ?? null,
  }))
  app.get('/admin', { onRequest: fa.authenticate({ tokens, roles: ['admin'] }) }, () => ({ ok: true }))
  app.get(
    '/service',
    {
      onRequest: fa.authenticate({
        tokens,
        audience: 'ledger',
        schemes: ['service'],
        scopes: ['ledger:write'],
      }),
    },
    (request) => ({ sub: request.auth?.sub, scheme: request.auth?.scheme }),
  )
  app.get('/key', { onRequest: fa.authenticate({ apiKeys, scopes: ['read'] }) }, (request) => ({
    sub: request.auth?.sub,
    scheme: request.auth?.scheme,
  }))
  app.get('/visit', { onRequest: sess }, async (request) => {
    const s = request.serverSession
    const visits = Number(s?.get('visits') ?? 0) + 1
    await s?.set({ visits })
    return { visits, userId: s?.userId ?? null, fromContext: currentSession() === s }
  })
  app.post('/login', { onRequest: sess }, async (request) => {
    await request.serverSession?.regenerate({ userId: 'alice' })
    return { ok: true }
  })
  app.post<{ Params: { i: string } }>('/field/:i', { onRequest: sess }, async (request) => {
    await request.serverSession?.set({ [`f${request.params.i}`]: Number(request.params.i) })
    return { ok: true }
  })
  app.get('/whoami', { onRequest: sess }, (request) => ({
    userId: request.serverSession?.userId ?? null,
    data: request.serverSession?.data ?? {},
  }))
  app.post('/logout', { onRequest: sess }, async (request) => {
    await request.serverSession?.destroy()
    return { ok: true }
  })
  app.get(
    '/private',
    { onRequest: fa.session(sessions, { cookie: { secret: COOKIE_SECRET }, required: true }) },
    () => ({ ok: true }),
  )
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, close: () => app.close() }
}

export interface Reply {
  readonly status: number
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
  readonly body: Record<string, unknown>
}

/** One HTTP request with full control of the headers (Origin, Sec-Fetch-Site, Cookie). */
export function call(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', headers: options.headers, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString()
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
          })
        })
      },
    )
    req.on('timeout', () => req.destroy(new Error('request timed out')))
    req.on('error', reject)
    req.end()
  })
}

/** The `name=value` of the session cookie a reply set, for the next request's Cookie header. */
export function sessionCookie(reply: Reply): string | undefined {
  const set = reply.headers['set-cookie']
  const list = Array.isArray(set) ? set : set === undefined ? [] : [set]
  const found = list.find((c) => c.startsWith('__Host-sid='))
  return found?.split(';')[0]
}
