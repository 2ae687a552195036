import { createDbRouter } from '@scalekit/db-router'
import { createShardMap } from '@scalekit/db-router/shards'
import { serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { formatReport, runScenario, startApp } from '../src/demo/index'
import type { RunningApp, ScenarioReport } from '../src/demo/index'

/**
 * The smoke tests of an example app over real HTTP, the same for both frameworks (each app's
 * test file runs it with its name): both modes, embedded (no server at all) and real services.
 */
export function smokeSuite(APP: 'express' | 'fastify'): void {
  /** Both modes: embedded (no server at all; the service variables explicitly unset) and real services. */
  const modes = {
    embedded: {
      DATABASE_URL: '',
      DATABASE_REPLICA_URLS: '',
      DATABASE_SHARD_URLS: '',
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: '',
      AMQP_URL: '',
    },
    services: {
      // a primary with a streaming replica (scripts/services.sh up --all): reads go to the replica
      DATABASE_URL: serviceUrls.pgPrimary,
      DATABASE_REPLICA_URLS: serviceUrls.pgReplica,
      DATABASE_SHARD_URLS: serviceUrls.pgShards.join(','), // orders sharded by customer over 3 shards
      REDIS_URL: serviceUrls.redis,
      AMQP_URL: serviceUrls.amqp,
      DB_SCHEMA: `sk_example_${APP}`, // tables of its own in the shared database
      APP_NAME: `sk-example-${APP}`, // exchange, queues and cache namespace of its own
    },
  }

  describe.each(Object.entries(modes))(`${APP} app over real HTTP, %s`, (mode, env) => {
    let app: RunningApp
    let report: ScenarioReport
    const json = { 'content-type': 'application/json' }
    const tokensOf = async (email: string, password: string) => {
      const login = await fetch(`${app.url}/login`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ email, password }),
      })
      expect(login.status).toBe(200)
      return (await login.json()) as { accessToken: string; refreshToken: string }
    }
    const tokenOf = async (email: string, password: string) => (await tokensOf(email, password)).accessToken

    beforeAll(async () => {
      // Rate-limit keys of their own per run: a previous run's exhausted login limit must not leak in.
      app = await startApp(APP, {
        ...env,
        REFRESH_GRACE_MS: '0',
        RATE_LIMIT_NAMESPACE: uniqueName(`${APP}-${mode}`),
        LOGIN_RATE_LIMIT: '20', // the tests log in more often than the demo
        SIMULATE_FAULTS: '1', // the scenario's orders make the worker's e-mail stub fail
      })
    }, 120_000)
    afterAll(async () => {
      expect(await app.stop()).toEqual(mode === 'embedded' ? [0] : [0, 0]) // graceful shutdown, exit 0
    }, 60_000)

    it('answers the probes and refuses what it must', async () => {
      expect(app.mode).toBe(mode)
      expect((await fetch(`${app.url}/healthz`)).status).toBe(200)
      const ready = await fetch(`${app.url}/readyz`)
      expect(ready.status).toBe(200)
      expect(await ready.json()).toMatchObject({
        checks: { db: { status: 'ok' }, cache: { status: 'ok' }, queue: { status: 'ok' } },
      })
      expect((await fetch(`${app.url}/products/999999`)).status).toBe(404)
      expect((await fetch(`${app.url}/products/abc`)).status).toBe(400)
      expect((await fetch(`${app.url}/admin/stats`)).status).toBe(401)
      const login = await fetch(`${app.url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'alice@example.com', password: 'alice-password' }),
      })
      const { accessToken } = (await login.json()) as { accessToken: string }
      const asAlice = { authorization: `Bearer ${accessToken}` }
      expect((await fetch(`${app.url}/admin/stats`, { headers: asAlice })).status).toBe(403) // not an admin
      const patch = await fetch(`${app.url}/products/1`, {
        method: 'PATCH',
        headers: { ...asAlice, 'content-type': 'application/json' },
        body: '{"name":"mine"}',
      })
      expect(patch.status).toBe(403)
      const order = await fetch(`${app.url}/orders`, {
        method: 'POST',
        headers: { ...asAlice, 'content-type': 'application/json' },
        body: '{"productId":1,"quantity":1}',
      })
      expect(order.status).toBe(201)
      const { orderId } = (await order.json()) as { orderId: number }
      const read = await fetch(`${app.url}/orders/${orderId}`, { headers: asAlice })
      expect(read.status).toBe(200)
      expect(await read.json()).toMatchObject({ id: orderId, productId: 1, quantity: 1 })
      // a fault is simulated only when the app is started with SIMULATE_FAULTS=1 (these tests do)
      const simulated = await fetch(`${app.url}/orders`, {
        method: 'POST',
        headers: { ...asAlice, 'content-type': 'application/json' },
        body: '{"productId":1,"simulate":{"emailFailures":-1}}',
      })
      expect(simulated.status).toBe(400)
    })

    it('reads its own write at once with the consistency token (a replica in services mode)', async () => {
      const admin = await tokenOf('root@example.com', 'root-password')
      const name = `read-your-writes ${Date.now()}`
      const patch = await fetch(`${app.url}/products/3`, {
        method: 'PATCH',
        headers: { ...json, authorization: `Bearer ${admin}` },
        body: JSON.stringify({ name }),
      })
      expect(patch.status).toBe(200)
      // the response carries the token of the write; with it, the list (never cached) is read from
      // a replica that has replayed the update, or from the primary
      const token = patch.headers.get('x-consistency-token')
      expect(token).toMatch(/^1\./)
      const list = await fetch(`${app.url}/products`, { headers: { 'x-consistency-token': token ?? '' } })
      expect(((await list.json()) as { id: number; name: string }[]).find((p) => p.id === 3)?.name).toBe(name)
    })

    it('keeps a cart in a server session (cookie), one per visitor', async () => {
      const add = (productId: number, cookie?: string) =>
        fetch(`${app.url}/cart`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(cookie === undefined ? {} : { cookie }) },
          body: JSON.stringify({ productId }),
        })
      const first = await add(3)
      expect(first.status).toBe(200)
      const cookie = first.headers.get('set-cookie')?.split(';')[0]
      expect(cookie).toBeDefined()
      expect(await (await add(4, cookie)).json()).toEqual({ items: [3, 4] })
      expect(await (await fetch(`${app.url}/cart`, { headers: { cookie: cookie ?? '' } })).json()).toEqual({
        items: [3, 4],
      })
      expect(await (await fetch(`${app.url}/cart`)).json()).toEqual({ items: [] }) // another visitor
    })

    it.runIf(mode === 'services')(
      'drops a product from every instance when one updates it (Redis)',
      async () => {
        const other = await startApp(APP, { ...env, RATE_LIMIT_NAMESPACE: uniqueName(`${APP}-second`) })
        try {
          const get = async (url: string) =>
            ((await (await fetch(`${url}/products/2`)).json()) as { name: string }).name
          await get(other.url) // now in the second instance's L1
          const login = await fetch(`${app.url}/login`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ email: 'root@example.com', password: 'root-password' }),
          })
          const { accessToken } = (await login.json()) as { accessToken: string }
          const name = `renamed ${Date.now()}`
          const patch = await fetch(`${app.url}/products/2`, {
            method: 'PATCH',
            headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
            body: JSON.stringify({ name }),
          })
          expect(patch.status).toBe(200)
          // The invalidation travels over Redis pub/sub: wait for it, then the second instance reads the new name.
          await waitFor(async () => (await get(other.url)) === name, { timeout: 10_000 })
        } finally {
          expect(await other.stop()).toEqual([0, 0])
        }
      },
      120_000,
    )

    it('dead-letters an order that cannot be fulfilled, leaving the stock as it was', async () => {
      const admin = await tokenOf('root@example.com', 'root-password')
      const alice = await tokenOf('alice@example.com', 'alice-password')
      const emptied = await fetch(`${app.url}/products/5`, {
        method: 'PATCH',
        headers: { ...json, authorization: `Bearer ${admin}` },
        body: '{"stock":0}',
      })
      expect(await emptied.json()).toMatchObject({ id: 5, stock: 0 })
      const order = await fetch(`${app.url}/orders`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${alice}` },
        body: '{"productId":5,"quantity":1}',
      })
      expect(order.status).toBe(201)
      const { orderId } = (await order.json()) as { orderId: number }
      // the worker (in this process, or its own over RabbitMQ) refuses it at once: no retry
      type Letter = { reason: string; attempts: number; error: string; payload: { orderId?: number } }
      let letter: Letter | undefined
      await waitFor(
        async () => {
          const taken = await fetch(`${app.url}/admin/dead-letters`, {
            method: 'POST',
            headers: { authorization: `Bearer ${admin}` },
          })
          letter ??= ((await taken.json()) as Letter[]).find((l) => l.payload.orderId === orderId)
          return letter !== undefined
        },
        { timeout: 20_000 },
      )
      expect(letter).toMatchObject({
        reason: 'non-retryable',
        attempts: 1,
        error: `order ${orderId}: out of stock`,
      })
      const after = await fetch(`${app.url}/orders/${orderId}`, {
        headers: { authorization: `Bearer ${alice}` },
      })
      expect(await after.json()).toMatchObject({ status: 'refused', fulfilledBy: null })
      const product = await fetch(`${app.url}/products`)
      expect(((await product.json()) as { id: number; stock: number }[]).find((p) => p.id === 5)?.stock).toBe(
        0,
      )
    })

    it.runIf(mode === 'services')(
      "keeps each customer's orders on the shard the hash of its id names, and only there",
      async () => {
        const shards = serviceUrls.pgShards.map((url) => createDbRouter({ primary: url }))
        const map = createShardMap({ strategy: 'hash' }, ['s0', 's1', 's2'])
        try {
          for (const [email, password] of [
            ['bob@example.com', 'bob-password'],
            ['carol@example.com', 'carol-password'],
            ['dave@example.com', 'dave-password'],
          ] as const) {
            const token = await tokenOf(email, password)
            const me = (await (
              await fetch(`${app.url}/me`, { headers: { authorization: `Bearer ${token}` } })
            ).json()) as { sub: string }
            const placed = await fetch(`${app.url}/orders`, {
              method: 'POST',
              headers: { ...json, authorization: `Bearer ${token}` },
              body: '{"productId":4,"quantity":1}',
            })
            const { orderId, shard } = (await placed.json()) as { orderId: number; shard: string }
            expect(shard).toBe(map.shardOf(Number(me.sub)))
            const holders = []
            for (const [i, db] of shards.entries()) {
              const { rows } = await db.query<{ user_id: number }>(
                `SELECT user_id FROM ${modes.services.DB_SCHEMA}.orders WHERE id = $1`,
                [orderId],
              )
              if (rows.length > 0) holders.push({ shard: `s${i}`, userId: rows[0]?.user_id })
            }
            expect(holders).toEqual([{ shard, userId: Number(me.sub) }])
          }
        } finally {
          await Promise.all(shards.map((db) => db.close()))
        }
      },
    )

    it(
      // refresh families and revocations in Redis, or in the app's memory on embedded defaults
      'logs a user out everywhere: access and refresh tokens answer 401',
      async () => {
        const tokens = await tokensOf('carol@example.com', 'carol-password')
        const bearer = { authorization: `Bearer ${tokens.accessToken}` }
        expect((await fetch(`${app.url}/me`, { headers: bearer })).status).toBe(200)
        const out = await fetch(`${app.url}/logout-everywhere`, { method: 'POST', headers: bearer })
        expect(out.status).toBe(204)
        await waitFor(async () => (await fetch(`${app.url}/me`, { headers: bearer })).status === 401, {
          timeout: 10_000,
        })
        const refresh = await fetch(`${app.url}/refresh`, {
          method: 'POST',
          headers: json,
          body: JSON.stringify({ refreshToken: tokens.refreshToken }),
        })
        expect(refresh.status).toBe(401)
      },
    )

    it('runs the demo scenario', async () => {
      report = await runScenario(app.url, app.logs, mode === 'embedded' ? 7 : 8)
      expect(report.burst).toEqual({ requests: 500, ok: 500, factoryCalls: 1, others: {} })
      expect(report.cache.hitRatio).toBeGreaterThan(0.99)
      expect(report.order.status).toBe('fulfilled')
      expect(report.order.email.map((email) => email.recipient)).toEqual(['alice@example.com'])
      expect(report.order.email[0]?.subject).toContain(String(report.order.orderId))
      expect(report.order.apiLogLines).toBeGreaterThanOrEqual(1)
      expect(report.order.workerLogLines).toBeGreaterThanOrEqual(1)
      if (mode === 'services')
        expect(report.order.workerPid).not.toBe(report.order.apiPid) // a separate worker process over RabbitMQ
      else expect(report.order.workerPid).toBe(report.order.apiPid) // in-memory queue: the worker runs in-process
      // refresh families in Redis, or in memory on embedded defaults: the reuse revokes the family
      expect(report.refresh).toMatchObject({
        detected: true,
        successorAfterReuse: 401,
        accessAfterReuse: 401,
      })
      expect(report.views.counted).toBe(600) // the burst and the 100 reads after it
      expect(report.views.stored).toBe(report.views.counted) // every view reached the database
      if (mode === 'embedded') {
        expect(report.views.batches).toBeGreaterThanOrEqual(1) // this instance flushed them
        expect(report.views.batches).toBeLessThan(report.views.counted) // in batches, not a write per view
      }
      expect(report.shards.shards).toEqual(mode === 'services' ? ['s0', 's1', 's2'] : ['main'])
      expect(Object.values(report.shards.byShard).reduce((a, b) => a + b, 0)).toBe(4)
      expect(report.transport).toBe(mode === 'services' ? 'amqp' : 'memory')
      expect(report.retry).toMatchObject({ status: 'fulfilled', attempts: 3, failures: 2 })
      expect(report.deadLetter).toMatchObject({ reason: 'failed', attempts: 5 })
      const lines = formatReport(report).join('\n')
      expect(lines).toContain(`retry     order ${report.retry.orderId}: its e-mail step failed 2 times`)
      expect(lines).toContain(`dead      order ${report.deadLetter.orderId}`)
      expect(report.rateLimit.status).toBe(429)
      expect(Number(report.rateLimit.retryAfter)).toBeGreaterThan(0)
      expect(report.metrics.some((line) => line.startsWith('scalekit_cache_gets_total'))).toBe(true)
    }, 90_000)
  })
}
