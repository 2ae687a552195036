import { randomUUID, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'
import { hostname } from 'node:os'
import { z } from 'zod'
import { getRequestContext } from '@scalekit/observability'
import { createWriteBehind } from '@scalekit/cache/write-behind'
import type { DbRouter } from '@scalekit/db-router'
import { defineMessage } from '@scalekit/queue'
import type { Services } from './services.js'

/** The one message type: published on checkout, handled by the worker (the customer names the order's shard). */
export const OrderPlaced = defineMessage(
  'order.placed',
  z.object({
    orderId: z.number().int(),
    customerId: z.number().int(),
    consistency: z.string().optional(),
  }),
)

export interface Product {
  readonly id: number
  readonly name: string
  readonly priceCents: number
  readonly stock: number
}

export interface Order {
  readonly id: number
  readonly userId: number
  readonly productId: number
  readonly quantity: number
  /** `placed`, then `fulfilled` by the worker, or `refused` (out of stock: dead-lettered). */
  readonly status: string
  /** The shard that holds the order (`main` without shards). */
  readonly shard: string
  /** The worker's attempt that fulfilled it (1 = no retry), null before. */
  readonly attempts: number | null
  /** Which worker process fulfilled it (`WORKER_ID`, or host:pid), null before. */
  readonly fulfilledBy: string | null
}

/** An error a route answers with its status (the frameworks' error handlers read `statusCode`). */
export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message)
  }
}

const scryptAsync = promisify(scrypt) as (password: string, salt: string, length: number) => Promise<Buffer>

// On the libuv pool, not the event loop: a burst of logins must not stall every other request (and
// with it the rate limiter's Redis calls, which then time out into the local policy).
const hash = async (password: string): Promise<string> =>
  (await scryptAsync(password, 'shop-demo-salt', 32)).toString('hex')

/** Demo users: root is an admin, the others customers (passwords are the demo's, not secrets). */
export const demoUsers = [
  { email: 'alice@example.com', password: 'alice-password', role: 'user' },
  { email: 'root@example.com', password: 'root-password', role: 'admin' },
  { email: 'bob@example.com', password: 'bob-password', role: 'user' },
  { email: 'carol@example.com', password: 'carol-password', role: 'user' },
  { email: 'dave@example.com', password: 'dave-password', role: 'user' },
] as const

/**
 * Creates the tables (idempotent; instances starting at once wait for each other on an advisory
 * lock). Users, products, stock takes and view counts in the main database; orders and their
 * e-mails on every order shard, with ids spaced by the number of shards so they are unique across them.
 */
export async function migrate(services: Services): Promise<void> {
  const s = services.config.schema
  const locked = async (db: DbRouter, statements: string[]): Promise<void> => {
    await db.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`${s}.migrate`])
      for (const statement of statements) await tx.query(statement)
    })
  }
  await locked(services.db, [
    `CREATE SCHEMA IF NOT EXISTS ${s}`,
    `CREATE TABLE IF NOT EXISTS ${s}.users (
      id serial PRIMARY KEY, email text UNIQUE NOT NULL, password_hash text NOT NULL, role text NOT NULL)`,
    `CREATE TABLE IF NOT EXISTS ${s}.products (
      id serial PRIMARY KEY, name text NOT NULL, price_cents int NOT NULL, stock int NOT NULL)`,
    // one row per order whose stock was taken: a retried order never takes its stock twice
    `CREATE TABLE IF NOT EXISTS ${s}.stock_takes (order_id int PRIMARY KEY, taken_at timestamptz NOT NULL DEFAULT now())`,
    // each instance's running count of a product's views (write-behind); a product's views are the sum
    `CREATE TABLE IF NOT EXISTS ${s}.product_views (
      product_id int NOT NULL, instance text NOT NULL, views bigint NOT NULL, PRIMARY KEY (product_id, instance))`,
  ])
  const shards = services.orders.names
  for (const [i, name] of shards.entries())
    await locked(services.orders.router(name), [
      `CREATE SCHEMA IF NOT EXISTS ${s}`,
      `CREATE SEQUENCE IF NOT EXISTS ${s}.order_ids AS integer START WITH ${i + 1} INCREMENT BY ${shards.length}`,
      `CREATE TABLE IF NOT EXISTS ${s}.orders (
        id int PRIMARY KEY DEFAULT nextval('${s}.order_ids'), user_id int NOT NULL, product_id int NOT NULL,
        quantity int NOT NULL, status text NOT NULL DEFAULT 'placed', request_id text)`,
      `ALTER TABLE ${s}.orders ADD COLUMN IF NOT EXISTS email_failures int NOT NULL DEFAULT 0`,
      `ALTER TABLE ${s}.orders ADD COLUMN IF NOT EXISTS attempts int`,
      `ALTER TABLE ${s}.orders ADD COLUMN IF NOT EXISTS fulfilled_by text`,
      `CREATE TABLE IF NOT EXISTS ${s}.emails (
        id serial PRIMARY KEY, order_id int UNIQUE NOT NULL, recipient text NOT NULL, subject text NOT NULL)`,
    ])
  for (const user of demoUsers)
    await services.db.query(
      `INSERT INTO ${s}.users (email, password_hash, role) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING`,
      [user.email, await hash(user.password), user.role],
    )
  const { rows } = await services.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${s}.products`, [], {
    role: 'primary',
  })
  if (rows[0]?.n === '0')
    for (let i = 1; i <= 20; i++)
      await services.db.query(`INSERT INTO ${s}.products (name, price_cents, stock) VALUES ($1, $2, $3)`, [
        `Product ${i}`,
        100 * i,
        1000,
      ])
}

/** The e-mail stub's subject for an order (the worker records it instead of sending). */
export const confirmationSubject = (orderId: number): string => `Your order ${orderId} is on its way`

interface OrderRow {
  id: number
  user_id: number
  product_id: number
  quantity: number
  status: string
  attempts: number | null
  fulfilled_by: string | null
}

/**
 * The API, framework-free: each method takes plain values and returns plain data or throws an
 * HttpError. The Express and Fastify apps only translate HTTP to these calls.
 */
export function createCatalogue(services: Services) {
  const { db, orders, cache, queue, tokens, config } = services
  const s = config.schema
  let productLoads = 0

  // Views: counted in this process, queued write-behind on the cache, written to the database in
  // batches. Each instance writes its own running count (an idempotent upsert that never goes back),
  // so instances never overwrite each other and a batch retried is harmless. A batch that fails is
  // retried by the queue, which tells the cache's logger once per episode.
  const instance = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`
  const counted = new Map<number, number>()
  const viewWrites = { batches: 0, rows: 0 }
  let viewsWarnedAt = 0
  const views = createWriteBehind<number>(cache, {
    name: 'product-views',
    batchSize: 1000,
    flushInterval: '500ms',
    write: async (batch) => {
      // With Redis one instance (the queue's leader) flushes every instance's entries: the key names whose count it is.
      const rows = batch.flatMap((entry) => {
        const [, product, ...origin] = entry.key.split(':')
        return entry.deleted
          ? []
          : [{ product: Number(product), origin: origin.join(':'), views: entry.value }]
      })
      await db.query(
        `INSERT INTO ${s}.product_views (product_id, instance, views)
         SELECT * FROM unnest($1::int[], $2::text[], $3::bigint[])
         ON CONFLICT (product_id, instance) DO UPDATE SET views = greatest(product_views.views, excluded.views)`,
        [rows.map((r) => r.product), rows.map((r) => r.origin), rows.map((r) => r.views)],
      )
      viewWrites.batches++
      viewWrites.rows += rows.length
    },
  })

  const toProduct = (row: { id: number; name: string; price_cents: number; stock: number }): Product => ({
    id: row.id,
    name: row.name,
    priceCents: row.price_cents,
    stock: row.stock,
  })

  const getProduct = async (id: number): Promise<Product> => {
    const product = await cache.getOrSet(
      `product:${id}`,
      async () => {
        productLoads++
        const { rows } = await db.query<Parameters<typeof toProduct>[0]>(
          `SELECT id, name, price_cents, stock FROM ${s}.products WHERE id = $1`,
          [id],
        )
        return rows[0] === undefined ? null : toProduct(rows[0])
      },
      { ttl: '30s', tags: [`product:${id}`] },
    )
    if (product === null) throw new HttpError(404, `product ${id} not found`)
    return product
  }

  return {
    /**
     * What this instance (`INSTANCE_ID`, default its pid) did: product reads that reached the
     * database (the cache's factory calls), view-count writes.
     */
    stats: () => ({
      instance: process.env['INSTANCE_ID'] ?? String(process.pid),
      queue: queue.health().transport,
      orderShards: orders.names,
      productLoads,
      viewWrites: { ...viewWrites },
    }),

    async login(email: unknown, password: unknown) {
      if (typeof email !== 'string' || typeof password !== 'string')
        throw new HttpError(400, 'email and password are required')
      const { rows } = await db.query<{ id: number; password_hash: string; role: string }>(
        `SELECT id, password_hash, role FROM ${s}.users WHERE email = $1`,
        [email],
      )
      const user = rows[0]
      const given = Buffer.from(await hash(password), 'hex')
      if (user === undefined || !timingSafeEqual(given, Buffer.from(user.password_hash, 'hex')))
        throw new HttpError(401, 'wrong email or password')
      return tokens.issue({ sub: String(user.id), roles: [user.role] })
    },

    async refresh(refreshToken: unknown) {
      if (typeof refreshToken !== 'string') throw new HttpError(400, 'refreshToken is required')
      return tokens.refresh(refreshToken)
    },

    /** Logs a user out on every device: their refresh families and access tokens are revoked. */
    async logoutEverywhere(sub: unknown): Promise<void> {
      if (typeof sub !== 'string') throw new HttpError(401, 'sign in first')
      await tokens.revoke({ sub })
    },

    async listProducts(): Promise<Product[]> {
      const { rows } = await db.query<Parameters<typeof toProduct>[0]>(
        `SELECT id, name, price_cents, stock FROM ${s}.products ORDER BY id LIMIT 100`,
      )
      return rows.map(toProduct)
    },

    /** Cache-aside with a tag: 500 concurrent reads of a cold product cost one query. */
    getProduct,

    /** A visitor's view of a product: the product (cached), and one more view counted write-behind. */
    async viewProduct(id: number): Promise<Product> {
      const product = await getProduct(id)
      const n = (counted.get(id) ?? 0) + 1
      counted.set(id, n)
      // coalesced per key (the last count wins) and flushed in batches; a failure never fails the read
      views.set(`views:${id}:${instance}`, n).catch((error: unknown) => {
        // e.g. Redis down (the cache's breaker open): one line a minute, not one per view
        if (Date.now() - viewsWarnedAt < 60_000) return
        viewsWarnedAt = Date.now()
        services.logger.warn(
          { err: error, productId: id },
          'product views: not queued (the next view queues the running count)',
        )
      })
      return product
    },

    /** A product's views as the database has them (every instance's flushed count). */
    async productViews(id: number): Promise<{ productId: number; views: number }> {
      const { rows } = await db.query<{ views: string }>(
        `SELECT coalesce(sum(views), 0) AS views FROM ${s}.product_views WHERE product_id = $1`,
        [id],
        { role: 'primary' },
      )
      return { productId: id, views: Number(rows[0]?.views ?? 0) }
    },

    /** Admin only (the route checks the role): a write on the primary, then every instance's copy is dropped. */
    async updateProduct(
      id: number,
      patch: { name?: unknown; priceCents?: unknown; stock?: unknown },
    ): Promise<Product> {
      const name = typeof patch.name === 'string' ? patch.name : null
      const price =
        typeof patch.priceCents === 'number' && Number.isInteger(patch.priceCents) ? patch.priceCents : null
      const stock =
        typeof patch.stock === 'number' && Number.isInteger(patch.stock) && patch.stock >= 0
          ? patch.stock
          : null
      const { rows } = await db.query<Parameters<typeof toProduct>[0]>(
        `UPDATE ${s}.products SET name = coalesce($2, name), price_cents = coalesce($3, price_cents),
         stock = coalesce($4, stock)
         WHERE id = $1 RETURNING id, name, price_cents, stock`,
        [id, name, price, stock],
      )
      if (rows[0] === undefined) throw new HttpError(404, `product ${id} not found`)
      await cache.invalidateTags([`product:${id}`])
      return toProduct(rows[0])
    },

    /**
     * Checkout: the order is written on the customer's shard, then `order.placed` goes to the
     * worker. `simulate.emailFailures` (with SIMULATE_FAULTS=1) makes the worker's e-mail stub fail
     * that many attempts first.
     */
    async placeOrder(userId: number, body: { productId?: unknown; quantity?: unknown; simulate?: unknown }) {
      const productId = Number(body.productId)
      const quantity = Number(body.quantity ?? 1)
      if (!Number.isInteger(productId) || !Number.isInteger(quantity) || quantity < 1 || quantity > 100)
        throw new HttpError(400, 'productId and quantity (1-100) must be integers')
      let emailFailures = 0
      if (body.simulate !== undefined) {
        if (!config.simulateFaults) throw new HttpError(400, 'simulated faults are off (SIMULATE_FAULTS=1)')
        const { simulate } = body
        emailFailures =
          typeof simulate === 'object' && simulate !== null && 'emailFailures' in simulate
            ? Number(simulate.emailFailures)
            : 0
        if (!Number.isInteger(emailFailures) || emailFailures < 0 || emailFailures > 10)
          throw new HttpError(400, 'simulate.emailFailures must be an integer 0-10')
      }
      await getProduct(productId) // 404 for an unknown product (products live in the main database)
      const shard = orders.of(userId)
      const insert = async () => {
        const { rows } = await shard.db.query<{ id: number }>(
          `INSERT INTO ${s}.orders (user_id, product_id, quantity, request_id, email_failures)
           VALUES ($1, $2, $3, $4, $5) RETURNING id`,
          [userId, productId, quantity, getRequestContext()?.requestId ?? null, emailFailures],
        )
        return { id: rows[0]!.id, consistency: shard.db.consistencyToken() }
      }
      // The request's consistency scope is the main router's (the middleware's); a shard's router needs its own.
      const order = shard.db === db ? await insert() : await shard.db.withConsistency(insert)
      // The worker reads the order with this token: on a replica that has replayed the insert, or the primary.
      await queue.publish(OrderPlaced, {
        orderId: order.id,
        customerId: userId,
        consistency: order.consistency,
      })
      return { orderId: order.id, status: 'placed', shard: shard.name }
    },

    /** Read-your-writes: this request's own insert is visible, even with lagging replicas. */
    async getOrder(userId: number, id: number): Promise<Order> {
      const shard = orders.of(userId)
      const { rows } = await shard.db.query<OrderRow>(
        `SELECT id, user_id, product_id, quantity, status, attempts, fulfilled_by FROM ${s}.orders
         WHERE id = $1 AND user_id = $2`,
        [id, userId],
      )
      const row = rows[0]
      if (row === undefined) throw new HttpError(404, `order ${id} not found`)
      return {
        id: row.id,
        userId: row.user_id,
        productId: row.product_id,
        quantity: row.quantity,
        status: row.status,
        shard: shard.name,
        attempts: row.attempts,
        fulfilledBy: row.fulfilled_by,
      }
    },

    /** What the e-mail stub would have sent for a customer's order (the worker records instead of sending). */
    async sentEmails(userId: number, orderId: number) {
      const { rows } = await orders
        .of(userId)
        .db.query<{ recipient: string; subject: string }>(
          `SELECT recipient, subject FROM ${s}.emails WHERE order_id = $1`,
          [orderId],
          { role: 'primary' },
        )
      return rows
    },

    /** Admin only: takes (removes and returns) the order worker's dead letters. */
    async takeDeadLetters(max = 100) {
      const letters = await queue.takeDeadLetters('fulfilment', { max })
      return letters.map(({ messageId, reason, attempts, error, payload }) => ({
        messageId,
        reason,
        attempts,
        error,
        payload,
      }))
    },
  }
}

export type Catalogue = ReturnType<typeof createCatalogue>
