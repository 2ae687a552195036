import type { AddressInfo } from 'node:net'
import { requireServices, serviceUrls, spawnWorker, uniqueName, waitFor } from '@scalekit/test-utils'
import express from 'express'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDbRouter } from '../../src/index'
import type { DbRouter } from '../../src/index'
import { consistency } from '../../src/adapters/express'
import { dbRouterPlugin } from '../../src/adapters/fastify'
import { admin, waitForReplay } from './helpers'
import { startThrowawayReplica } from './throwaway-replica'
import type { ThrowawayReplica } from './throwaway-replica'

const S = uniqueName('http')

interface Item {
  v: string
  rec: boolean
}

describe('Express and Fastify adapters: a request that writes, then the next one carrying the token reads it', () => {
  let replica: ThrowawayReplica
  let db: DbRouter

  beforeAll(async () => {
    await requireServices('pgPrimary')
    await admin(
      serviceUrls.pgPrimary,
      `CREATE SCHEMA ${S}; CREATE TABLE ${S}.items (id serial PRIMARY KEY, v text)`,
    )
    // A private replica, so this file can pause its replay while other files use the shared ones.
    replica = await startThrowawayReplica()
    await waitForReplay(serviceUrls.pgPrimary, replica.url, 30_000)
    // Lag exclusion off: the paused replica must keep serving reads without a token (the stale control).
    db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [replica.url],
      consistency: { maxWait: 0, secret: 's'.repeat(32) },
      health: { maxLagBytes: Number.MAX_SAFE_INTEGER, maxLagSeconds: 1e6 },
    })
  })

  afterAll(async () => {
    await db.close()
    await replica.destroy()
    await admin(serviceUrls.pgPrimary, `DROP SCHEMA IF EXISTS ${S} CASCADE`)
  })

  async function setReplay(paused: boolean): Promise<void> {
    await admin(replica.url, paused ? 'SELECT pg_wal_replay_pause()' : 'SELECT pg_wal_replay_resume()')
    if (paused) {
      await waitFor(
        async () =>
          (await admin<{ s: string }>(replica.url, 'SELECT pg_get_wal_replay_pause_state() AS s'))[0]?.s ===
          'paused',
        { timeout: 10_000 },
      )
    }
  }

  const insert = async (v: string): Promise<number | undefined> =>
    (await db.query<{ id: number }>(`INSERT INTO ${S}.items (v) VALUES ($1) RETURNING id`, [v])).rows[0]?.id
  const find = async (id: string): Promise<Item | undefined> =>
    (await db.query<Item>(`SELECT v, pg_is_in_recovery() AS rec FROM ${S}.items WHERE id = $1`, [Number(id)]))
      .rows[0]

  it('express: header and cookie carry the token across requests through a lagging replica', async () => {
    const app = express()
    app.use(express.json(), consistency(db, { cookie: true }))
    app.post('/items', async (req, res) => {
      res.status(201).json({ id: await insert((req.body as { v: string }).v) })
    })
    app.get('/items/:id', async (req, res) => {
      const item = await find(req.params.id)
      if (item === undefined) res.status(404).end()
      else res.json(item)
    })
    const server = app.listen(0, '127.0.0.1')
    await new Promise((resolve) => server.once('listening', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    try {
      await setReplay(true)
      const created = await fetch(`${base}/items`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ v: 'express' }),
      })
      expect(created.status).toBe(201)
      const { id } = (await created.json()) as { id: number }
      const token = created.headers.get('x-consistency-token')
      expect(token).toMatch(/^1\.[0-9a-f]+\.[\w-]{43}$/)
      const cookie = created.headers.get('set-cookie') ?? ''
      expect(cookie).toMatch(
        /^sk_consistency=1\.[0-9a-f.\w-]+; Max-Age=60; Path=\/; HttpOnly; SameSite=Lax; Secure$/,
      )

      // Without the token the lagging replica answers: the row is not there yet.
      expect((await fetch(`${base}/items/${id}`)).status).toBe(404)
      // With it (header, or cookie), the read sees the write.
      const byHeader = await fetch(`${base}/items/${id}`, { headers: { 'x-consistency-token': token ?? '' } })
      expect(await byHeader.json()).toEqual({ v: 'express', rec: false })
      expect(byHeader.headers.get('x-consistency-token')).toBeNull() // no new write, nothing to send back
      const byCookie = await fetch(`${base}/items/${id}`, { headers: { cookie: cookie.split(';')[0] ?? '' } })
      expect(await byCookie.json()).toEqual({ v: 'express', rec: false })
      // A forged token is ignored (read as if none was sent).
      expect(
        (await fetch(`${base}/items/${id}`, { headers: { 'x-consistency-token': '1.ffffffff' } })).status,
      ).toBe(404)

      // Once the replica has replayed, the token no longer holds reads on the primary.
      await setReplay(false)
      await waitFor(
        async () =>
          (
            (await (
              await fetch(`${base}/items/${id}`, { headers: { 'x-consistency-token': token ?? '' } })
            ).json()) as Item
          ).rec,
        {
          timeout: 20_000,
          message: 'token read served by the replica after it caught up',
        },
      )
    } finally {
      await setReplay(false)
      await new Promise((resolve) => server.close(resolve))
    }
  })

  it('fastify: the plugin carries the token the same way; invalid tokens can be rejected with 400', async () => {
    const app = Fastify()
    await app.register(dbRouterPlugin, { db, onInvalidToken: 'reject' })
    app.post('/items', async (request, reply) => {
      const id = await insert((request.body as { v: string }).v)
      return reply.code(201).send({ id })
    })
    app.get('/items/:id', async (request, reply) => {
      const item = await find((request.params as { id: string }).id)
      return item === undefined ? reply.code(404).send() : item
    })
    await app.ready()
    expect(app.dbRouter).toBe(db)
    try {
      await setReplay(true)
      const created = await app.inject({ method: 'POST', url: '/items', payload: { v: 'fastify' } })
      expect(created.statusCode).toBe(201)
      const { id } = created.json<{ id: number }>()
      const token = created.headers['x-consistency-token']
      expect(typeof token).toBe('string')
      expect((await app.inject({ method: 'GET', url: `/items/${id}` })).statusCode).toBe(404)
      const read = await app.inject({
        method: 'GET',
        url: `/items/${id}`,
        headers: { 'x-consistency-token': String(token) },
      })
      expect(read.json()).toEqual({ v: 'fastify', rec: false })
      const forged = await app.inject({
        method: 'GET',
        url: `/items/${id}`,
        headers: { 'x-consistency-token': '1.abc' },
      })
      expect(forged.statusCode).toBe(400)
      expect(forged.json()).toEqual({ code: 'ERR_DB_INVALID_TOKEN' })
    } finally {
      await setReplay(false)
      await app.close()
    }
    // The plugin does not close the router it was given.
    await expect(db.query('SELECT 1 AS one')).resolves.toMatchObject({ rows: [{ one: 1 }] })
  })

  it('across processes: an instance writes, another instance given its token reads the write (replica paused)', async () => {
    const base = {
      PRIMARY_URL: serviceUrls.pgPrimary,
      REPLICA_URL: replica.url,
      SECRET: 's'.repeat(32),
      TABLE: `${S}.items`,
    }
    const script = new URL('./fixtures/ryw-worker.ts', import.meta.url)
    const run = async <T>(env: Record<string, string>): Promise<T> => {
      const worker = spawnWorker<T>({ script, env: { ...base, ...env }, timeoutMs: 45_000 })
      const [result, exit] = await Promise.all([worker.result, worker.exited])
      expect(exit.code).toBe(0)
      return result
    }
    try {
      await setReplay(true)
      const written = await run<{ id: number; token: string }>({ MODE: 'write' })
      expect(written.token).toMatch(/^1\.[0-9a-f]+\.[\w-]{43}$/)
      const stale = await run<{ row: Item | null }>({ MODE: 'read', ID: String(written.id), TOKEN: '' })
      expect(stale.row).toBeNull()
      const fresh = await run<{ row: Item | null }>({
        MODE: 'read',
        ID: String(written.id),
        TOKEN: written.token,
      })
      expect(fresh.row).toEqual({ v: 'from-worker', rec: false })
    } finally {
      await setReplay(false)
    }
  })
})
