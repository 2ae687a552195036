import { request } from 'node:http'
import { Writable } from 'node:stream'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { describe, expect, it, vi } from 'vitest'
import { createLogger, getRequestContext } from '../../src/index'
import { observability } from '../../src/adapters/express'
import { observabilityPlugin } from '../../src/adapters/fastify'
import { serve } from '../http-client'

function post(
  port: number,
  body: string,
  headers: Record<string, string>,
): Promise<{ status: number; requestId: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/orders/7',
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
      },
      (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (text += chunk))
        res.on('end', () => {
          const id = res.headers['x-request-id']
          resolve({
            status: res.statusCode ?? 0,
            requestId: typeof id === 'string' ? id : undefined,
            body: text,
          })
        })
      },
    )
    req.on('error', reject)
    req.end(body)
  })
}

const logger = createLogger({ level: 'silent' })
const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'

describe.each(['express', 'fastify'] as const)('%s request context', (framework) => {
  it('reaches the handler after body parsing, with the request id echoed and the route template', async () => {
    let port: number
    let close: () => Promise<void>
    const answer = async (): Promise<string> => {
      await new Promise((resolve) => setImmediate(resolve))
      const context = getRequestContext()
      return JSON.stringify({
        requestId: context?.requestId,
        traceId: context?.traceId,
        route: context?.route,
      })
    }
    if (framework === 'express') {
      const app = express()
      app.use(observability({ logger }))
      app.use(express.json())
      app.post('/orders/:id', (_req, res, next) => {
        answer().then((text) => res.type('json').send(text), next)
      })
      ;({ port, close } = await serve(app))
    } else {
      const app = Fastify()
      await app.register(observabilityPlugin, { logger })
      app.post('/orders/:id', async (_request, reply) => reply.type('application/json').send(await answer()))
      await app.listen({ port: 0, host: '127.0.0.1' })
      port = (app.server.address() as AddressInfo).port
      close = () => app.close()
    }
    try {
      const given = await post(port, JSON.stringify({ item: 'x'.repeat(20_000) }), {
        'x-request-id': 'abc-1',
        traceparent,
      })
      expect(given.status).toBe(200)
      expect(given.requestId).toBe('abc-1')
      expect(JSON.parse(given.body)).toEqual({
        requestId: 'abc-1',
        traceId: '0af7651916cd43dd8448eb211c80319c',
        route: '/orders/:id',
      })
      const generated = await post(port, '{}', { 'x-request-id': 'not ok' })
      expect(generated.requestId).toMatch(/^[0-9a-f-]{36}$/)
      expect(JSON.parse(generated.body)).toMatchObject({ requestId: generated.requestId })
    } finally {
      await close()
    }
  })
})

describe.each(['express', 'fastify'] as const)('%s access line', (framework) => {
  it("names the request's ids, method, route, status and duration, and the handler's lines carry the ids", async () => {
    const lines: Record<string, unknown>[] = []
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>)
        done()
      },
    })
    const captured = createLogger({ destination })
    let port: number
    let close: () => Promise<void>
    if (framework === 'express') {
      const app = express()
      app.use(observability({ logger: captured }))
      app.use(express.json())
      app.post('/orders/:id', (_req, res) => {
        captured.info({ orderId: 7 }, 'placing')
        res.json({ ok: true })
      })
      ;({ port, close } = await serve(app))
    } else {
      const app = Fastify()
      await app.register(observabilityPlugin, { logger: captured })
      app.post('/orders/:id', async () => {
        await new Promise((resolve) => setImmediate(resolve))
        captured.info({ orderId: 7 }, 'placing')
        return { ok: true }
      })
      await app.listen({ port: 0, host: '127.0.0.1' })
      port = (app.server.address() as AddressInfo).port
      close = () => app.close()
    }
    try {
      expect((await post(port, '{}', { 'x-request-id': 'abc-2', traceparent })).status).toBe(200)
      // The access line is written when the response closes, which may follow the client's read.
      await vi.waitFor(() => {
        expect(lines.some((line) => line.msg === 'request completed')).toBe(true)
      })
      const placing = lines.find((line) => line.msg === 'placing')
      const access = lines.find((line) => line.msg === 'request completed')
      expect(placing).toMatchObject({
        orderId: 7,
        requestId: 'abc-2',
        traceId: '0af7651916cd43dd8448eb211c80319c',
        route: '/orders/:id',
      })
      expect(access).toMatchObject({
        requestId: 'abc-2',
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: placing?.spanId,
        method: 'POST',
        route: '/orders/:id',
        statusCode: 200,
      })
      expect(access?.durationMs).toEqual(expect.any(Number))
    } finally {
      await close()
    }
  })
})

describe('fastify access line', () => {
  it('labels a request turned into a 404 by callNotFound() unmatched, with the options of the logger it was given', async () => {
    const lines: Record<string, unknown>[] = []
    const destination = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>)
        done()
      },
    })
    const app = Fastify()
    await app.register(observabilityPlugin, {
      logger: createLogger({ destination, base: { service: 'orders' }, messageKey: 'message' }),
    })
    app.post('/orders/:id', (_request, reply) => {
      reply.callNotFound()
    })
    await app.listen({ port: 0, host: '127.0.0.1' })
    try {
      const port = (app.server.address() as AddressInfo).port
      expect((await post(port, '{}', { 'x-request-id': 'abc-3' })).status).toBe(404)
      await vi.waitFor(() => {
        expect(lines.some((line) => line.message === 'request completed')).toBe(true)
      })
      expect(lines.find((line) => line.message === 'request completed')).toMatchObject({
        service: 'orders',
        requestId: 'abc-3',
        route: 'unmatched',
        statusCode: 404,
      })
    } finally {
      await app.close()
    }
  })
})
