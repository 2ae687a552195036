import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import express from 'express'
import expressSession from 'express-session'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { createSessionStore } from '../../src/express-session/store'
import { call } from '../support/apps'

declare module 'express-session' {
  interface SessionData {
    [field: string]: unknown
  }
}

/** An express-session app, as users have it, with only the store line changed. */
async function start(store: expressSession.Store): Promise<{ url: string; server: Server }> {
  const app = express()
  app.use(
    expressSession({ store, secret: 'express-session-secret', resave: false, saveUninitialized: false }),
  )
  app.post('/field/:i', (req, res) => {
    req.session[`f${req.params['i']}`] = Number(req.params['i'])
    res.json({ ok: true })
  })
  app.post('/start', (req, res) => {
    req.session['started'] = true
    res.json({ ok: true })
  })
  app.get('/data', (req, res) => {
    res.json(Object.fromEntries(Object.entries(req.session).filter(([name]) => name !== 'cookie')))
  })
  app.post('/logout', (req, res) => {
    req.session.destroy(() => res.json({ ok: true }))
  })
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server }
}

describe('express-session with createSessionStore (ioredis)', () => {
  let redis: Redis
  let app: { url: string; server: Server }
  const prefix = `${uniqueName('exsess')}:`

  beforeAll(async () => {
    await requireServices('redis')
    redis = new Redis(serviceUrls.redis)
    app = await start(createSessionStore({ redis, prefix }))
  })
  afterAll(async () => {
    app.server.closeAllConnections()
    await new Promise((resolve) => app.server.close(resolve))
    redis.disconnect()
  })

  it('works as an express-session store: save, load, destroy', async () => {
    const started = await call(`${app.url}/start`, { method: 'POST' })
    const cookie = ([] as string[]).concat(started.headers['set-cookie'] ?? [])[0]?.split(';')[0] as string
    expect(cookie).toMatch(/^connect\.sid=/)
    expect((await call(`${app.url}/data`, { headers: { cookie } })).body).toMatchObject({ started: true })
    await call(`${app.url}/logout`, { method: 'POST', headers: { cookie } })
    expect((await call(`${app.url}/data`, { headers: { cookie } })).body['started']).toBeUndefined()
  })

  it('keeps all of 50 concurrent requests changing different fields of one session', async () => {
    const started = await call(`${app.url}/start`, { method: 'POST' })
    const cookie = ([] as string[]).concat(started.headers['set-cookie'] ?? [])[0]?.split(';')[0] as string
    await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        call(`${app.url}/field/${i}`, { method: 'POST', headers: { cookie } }),
      ),
    )
    const data = (await call(`${app.url}/data`, { headers: { cookie } })).body
    expect(Array.from({ length: 50 }, (_, i) => data[`f${i}`])).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    )
    expect(data['started']).toBe(true)
  })
})
