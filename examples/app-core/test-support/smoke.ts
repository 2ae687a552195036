import { serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runScenario, startApp } from '../src/demo/index'
import type { RunningApp, ScenarioReport } from '../src/demo/index'

/**
 * The smoke tests of an example app over real HTTP, the same for both frameworks (each app's
 * test file runs it with its name): both modes, embedded (no server at all) and real services.
 */
export function smokeSuite(APP: 'express' | 'fastify'): void {
  /** Both modes: embedded (no server at all; the service variables explicitly unset) and real services. */
  const modes = {
    embedded: { DATABASE_URL: '', DATABASE_REPLICA_URLS: '', REDIS_URL: '', AMQP_URL: '' },
    services: {
      // a primary with a streaming replica (scripts/services.sh up --all): reads go to the replica
      DATABASE_URL: serviceUrls.pgPrimary,
      DATABASE_REPLICA_URLS: serviceUrls.pgReplica,
      REDIS_URL: serviceUrls.redis,
      AMQP_URL: serviceUrls.amqp,
      DB_SCHEMA: `sk_example_${APP}`, // tables of its own in the shared database
      APP_NAME: `sk-example-${APP}`, // exchange, queues and cache namespace of its own
    },
  }

  describe.each(Object.entries(modes))(`${APP} app over real HTTP, %s`, (mode, env) => {
    let app: RunningApp
    let report: ScenarioReport

    beforeAll(async () => {
      // Rate-limit keys of their own per run: a previous run's exhausted login limit must not leak in.
      app = await startApp(APP, {
        ...env,
        REFRESH_GRACE_MS: '0',
        RATE_LIMIT_NAMESPACE: uniqueName(`${APP}-${mode}`),
        LOGIN_RATE_LIMIT: '10', // the tests log in more often than the demo
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
      // read-your-writes: the response carries the consistency token of the write; with it, the next
      // request reads the order at once, from a replica that has replayed it or from the primary
      const token = order.headers.get('x-consistency-token')
      expect(token).toMatch(/^1\./)
      const { orderId } = (await order.json()) as { orderId: number }
      const read = await fetch(`${app.url}/orders/${orderId}`, {
        headers: { ...asAlice, 'x-consistency-token': token ?? '' },
      })
      expect(read.status).toBe(200)
      expect(await read.json()).toMatchObject({ id: orderId, productId: 1, quantity: 1 })
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

    it.runIf(mode === 'embedded')('dead-letters an order that cannot be fulfilled', async () => {
      const tokenOf = async (email: string, password: string) => {
        const login = await fetch(`${app.url}/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ email, password }),
        })
        return ((await login.json()) as { accessToken: string }).accessToken
      }
      const admin = await tokenOf('root@example.com', 'root-password')
      const alice = await tokenOf('alice@example.com', 'alice-password')
      const json = { 'content-type': 'application/json' }
      const emptied = await fetch(`${app.url}/products/5`, {
        method: 'PATCH',
        headers: { ...json, authorization: `Bearer ${admin}` },
        body: '{"stock":0}',
      })
      expect(await emptied.json()).toMatchObject({ id: 5, stock: 0 })
      const deadLetters = async () => {
        const text = await (await fetch(`${app.url}/metrics`)).text()
        const line = text
          .split('\n')
          .find((l) => l.startsWith('scalekit_queue_dead_letters_total') && l.includes('non-retryable'))
        return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
      }
      const before = await deadLetters()
      const order = await fetch(`${app.url}/orders`, {
        method: 'POST',
        headers: { ...json, authorization: `Bearer ${alice}` },
        body: '{"productId":5,"quantity":1}',
      })
      expect(order.status).toBe(201)
      const { orderId } = (await order.json()) as { orderId: number }
      // The in-process worker's metrics are the API's: the out-of-stock order is dead-lettered, not retried.
      await waitFor(async () => (await deadLetters()) === before + 1, { timeout: 10_000 })
      const after = await fetch(`${app.url}/orders/${orderId}`, {
        headers: { authorization: `Bearer ${alice}` },
      })
      expect(await after.json()).toMatchObject({ status: 'placed' }) // its transaction rolled back: no stock taken
    })

    it('runs the demo scenario', async () => {
      report = await runScenario(app.url, app.logs, mode === 'embedded' ? 7 : 8)
      expect(report.burst).toEqual({ requests: 500, ok: 500, factoryCalls: 1, others: {} })
      expect(report.cache.hitRatio).toBeGreaterThan(0.99)
      expect(report.order.status).toBe('fulfilled')
      expect(report.order.email.map((email) => email.recipient)).toEqual(['alice@example.com'])
      expect(report.order.email[0]?.subject).toContain(String(report.order.orderId))
      expect(report.order.apiLogLines).toBeGreaterThanOrEqual(1)
      expect(report.order.workerLogLines).toBeGreaterThanOrEqual(1)
      if (mode === 'services') {
        expect(report.order.workerPid).not.toBe(report.order.apiPid) // a separate worker process over RabbitMQ
        expect(report.refresh).toMatchObject({
          detected: true,
          successorAfterReuse: 401,
          accessAfterReuse: 401,
        })
      } else {
        expect(report.order.workerPid).toBe(report.order.apiPid) // in-memory queue: the worker runs in-process
        expect(report.refresh.detected).toBe(false) // stateless tokens without Redis
      }
      expect(report.rateLimit.status).toBe(429)
      expect(Number(report.rateLimit.retryAfter)).toBeGreaterThan(0)
      expect(report.metrics.some((line) => line.startsWith('scalekit_cache_gets_total'))).toBe(true)
    }, 90_000)
  })
}
