import type { AddressInfo } from 'node:net'
import { requireServices, serviceUrls } from '@scalekit/test-utils'
import express from 'express'
import Fastify from 'fastify'
import { beforeAll, describe, expect, it } from 'vitest'
import { consistency } from '../../src/adapters/express'
import type { ConsistencyCarrierOptions } from '../../src/adapters/express'
import { dbRouterPlugin } from '../../src/adapters/fastify'
import { createDbRouter } from '../../src/index'

const secret = 'k'.repeat(32)

describe('adapters: client tokens only when signed, router errors as HTTP statuses (issue 12 defect 13, issue 13 item 8)', () => {
  beforeAll(async () => {
    await requireServices('pgPrimary')
  })

  it('refuse to start over a router that does not sign its tokens, unless acceptUnsigned: true', async () => {
    const unsigned = createDbRouter({ primary: serviceUrls.pgPrimary })
    const signed = createDbRouter({ primary: serviceUrls.pgPrimary, consistency: { secret: [secret] } })
    try {
      expect(() => consistency(unsigned)).toThrow(
        expect.objectContaining({
          code: 'ERR_DB_INVALID_OPTIONS',
          message: expect.stringContaining('consistency.secret') as unknown,
        }),
      )
      expect(() => consistency(unsigned, { acceptUnsigned: true })).not.toThrow()
      expect(() => consistency(signed)).not.toThrow()
      expect(() => consistency(signed, { cookies: true } as ConsistencyCarrierOptions)).toThrow(
        'cookies is not an option',
      )
      expect(() => consistency(signed, { onInvalidToken: 'drop' as 'ignore' })).toThrow(
        expect.objectContaining({ code: 'ERR_DB_INVALID_OPTIONS' }),
      )
      const app = Fastify()
      await expect(app.register(dbRouterPlugin, { db: unsigned })).rejects.toMatchObject({
        code: 'ERR_DB_INVALID_OPTIONS',
      })
      await app.close()
      const ok = Fastify()
      await ok.register(dbRouterPlugin, { db: unsigned, acceptUnsigned: true })
      await ok.ready()
      await ok.close()
    } finally {
      await unsigned.close()
      await signed.close()
    }
  })

  it('express: a route that queries a closed router answers 503 (ERR_DB_CLOSED), not 500', async () => {
    const db = createDbRouter({ primary: serviceUrls.pgPrimary, consistency: { secret } })
    const app = express()
    app.use(consistency(db))
    app.get('/one', async (_req, res) => {
      const { rows } = await db.query('SELECT 1 AS one')
      res.json(rows[0])
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/one`
    try {
      expect((await fetch(url)).status).toBe(200)
      await db.close()
      expect((await fetch(url)).status).toBe(503)
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('fastify: a route that queries a closed router answers 503 (ERR_DB_CLOSED), not 500', async () => {
    const db = createDbRouter({ primary: serviceUrls.pgPrimary, consistency: { secret } })
    const app = Fastify()
    await app.register(dbRouterPlugin, { db })
    app.get('/one', async () => (await db.query('SELECT 1 AS one')).rows[0])
    try {
      expect((await app.inject({ method: 'GET', url: '/one' })).statusCode).toBe(200)
      await db.close()
      const after = await app.inject({ method: 'GET', url: '/one' })
      expect(after.statusCode).toBe(503)
      expect(after.json()).toMatchObject({ code: 'ERR_DB_CLOSED' })
    } finally {
      await app.close()
    }
  })
})
