import { scryptSync, timingSafeEqual } from 'node:crypto'
import { z } from 'zod'
import { getRequestContext } from '@scalekit/observability'
import { defineMessage } from '@scalekit/queue'
import type { Services } from './services.js'

/** The one message type: published on checkout, handled by the worker. */
export const OrderPlaced = defineMessage(
  'order.placed',
  z.object({ orderId: z.number().int(), consistency: z.string().optional() }),
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
  readonly status: string
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

const hash = (password: string): string => scryptSync(password, 'shop-demo-salt', 32).toString('hex')

/** Demo users: alice is a customer, root an admin (passwords are the demo's, not secrets). */
export const demoUsers = [
  { email: 'alice@example.com', password: 'alice-password', role: 'user' },
  { email: 'root@example.com', password: 'root-password', role: 'admin' },
] as const

export async function migrate(services: Services): Promise<void> {
  const s = services.config.schema
  await services.db.query(`CREATE SCHEMA IF NOT EXISTS ${s}`)
  await services.db.query(`CREATE TABLE IF NOT EXISTS ${s}.users (
    id serial PRIMARY KEY, email text UNIQUE NOT NULL, password_hash text NOT NULL, role text NOT NULL)`)
  await services.db.query(`CREATE TABLE IF NOT EXISTS ${s}.products (
    id serial PRIMARY KEY, name text NOT NULL, price_cents int NOT NULL, stock int NOT NULL)`)
  await services.db.query(`CREATE TABLE IF NOT EXISTS ${s}.orders (
    id serial PRIMARY KEY, user_id int NOT NULL, product_id int NOT NULL, quantity int NOT NULL,
    status text NOT NULL DEFAULT 'placed', request_id text)`)
  await services.db.query(`CREATE TABLE IF NOT EXISTS ${s}.emails (
    id serial PRIMARY KEY, order_id int UNIQUE NOT NULL, recipient text NOT NULL, subject text NOT NULL)`)
  for (const user of demoUsers)
    await services.db.query(
      `INSERT INTO ${s}.users (email, password_hash, role) VALUES ($1, $2, $3) ON CONFLICT (email) DO NOTHING`,
      [user.email, hash(user.password), user.role],
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

/**
 * The API, framework-free: each method takes plain values and returns plain data or throws an
 * HttpError. The Express and Fastify apps only translate HTTP to these calls.
 */
export function createCatalogue(services: Services) {
  const { db, cache, queue, tokens, config } = services
  const s = config.schema
  let productLoads = 0

  const toProduct = (row: { id: number; name: string; price_cents: number; stock: number }): Product => ({
    id: row.id,
    name: row.name,
    priceCents: row.price_cents,
    stock: row.stock,
  })

  return {
    /** How many times a product was read from the database (the cache's factory calls). */
    productLoads: (): number => productLoads,

    async login(email: unknown, password: unknown) {
      if (typeof email !== 'string' || typeof password !== 'string')
        throw new HttpError(400, 'email and password are required')
      const { rows } = await db.query<{ id: number; password_hash: string; role: string }>(
        `SELECT id, password_hash, role FROM ${s}.users WHERE email = $1`,
        [email],
      )
      const user = rows[0]
      const given = Buffer.from(hash(password), 'hex')
      if (user === undefined || !timingSafeEqual(given, Buffer.from(user.password_hash, 'hex')))
        throw new HttpError(401, 'wrong email or password')
      return tokens.issue({ sub: String(user.id), roles: [user.role] })
    },

    async refresh(refreshToken: unknown) {
      if (typeof refreshToken !== 'string') throw new HttpError(400, 'refreshToken is required')
      return tokens.refresh(refreshToken)
    },

    async listProducts(): Promise<Product[]> {
      const { rows } = await db.query<Parameters<typeof toProduct>[0]>(
        `SELECT id, name, price_cents, stock FROM ${s}.products ORDER BY id LIMIT 100`,
      )
      return rows.map(toProduct)
    },

    /** Cache-aside with a tag: 500 concurrent reads of a cold product cost one query. */
    async getProduct(id: number): Promise<Product> {
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

    /** Checkout: the order is written on the primary, then `order.placed` goes to the worker. */
    async placeOrder(userId: number, body: { productId?: unknown; quantity?: unknown }) {
      const productId = Number(body.productId)
      const quantity = Number(body.quantity ?? 1)
      if (!Number.isInteger(productId) || !Number.isInteger(quantity) || quantity < 1 || quantity > 100)
        throw new HttpError(400, 'productId and quantity (1-100) must be integers')
      const { rows } = await db.query<{ id: number }>(
        `INSERT INTO ${s}.orders (user_id, product_id, quantity, request_id)
         SELECT $1, id, $3, $4 FROM ${s}.products WHERE id = $2 RETURNING id`,
        [userId, productId, quantity, getRequestContext()?.requestId ?? null],
      )
      const order = rows[0]
      if (order === undefined) throw new HttpError(404, `product ${productId} not found`)
      // The worker reads the order with this token: on a replica that has replayed the insert, or the primary.
      await queue.publish(OrderPlaced, { orderId: order.id, consistency: db.consistencyToken() })
      return { orderId: order.id, status: 'placed' }
    },

    /** Read-your-writes: this request's own insert is visible, even with lagging replicas. */
    async getOrder(userId: number, id: number): Promise<Order> {
      const { rows } = await db.query<{
        id: number
        user_id: number
        product_id: number
        quantity: number
        status: string
      }>(`SELECT id, user_id, product_id, quantity, status FROM ${s}.orders WHERE id = $1 AND user_id = $2`, [
        id,
        userId,
      ])
      const row = rows[0]
      if (row === undefined) throw new HttpError(404, `order ${id} not found`)
      return {
        id: row.id,
        userId: row.user_id,
        productId: row.product_id,
        quantity: row.quantity,
        status: row.status,
      }
    },

    /** What the e-mail stub would have sent (the worker records instead of sending). */
    async sentEmails(orderId: number) {
      const { rows } = await db.query<{ recipient: string; subject: string }>(
        `SELECT recipient, subject FROM ${s}.emails WHERE order_id = $1`,
        [orderId],
        { role: 'primary' },
      )
      return rows
    },
  }
}

export type Catalogue = ReturnType<typeof createCatalogue>
