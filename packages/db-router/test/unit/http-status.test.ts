import { once } from 'node:events'
import type { AddressInfo } from 'node:net'
import express from 'express'
import Fastify from 'fastify'
import { describe, expect, it } from 'vitest'
import { HTTP_STATUS, httpStatusOf } from '../../src/http-status'
import { DbRouterError, DbTimeoutError, errors } from '../../src/index'
import { DbBucketMovingError, DbNoShardError, DbShardsFailedError } from '../../src/shards/index'

const classes = Object.entries(errors)

describe('HTTP status of every db-router error (one table, issue 17)', () => {
  it.each(classes)('%s has a status of its own in the table', (code, ErrorClass) => {
    expect(Object.hasOwn(HTTP_STATUS, code)).toBe(true)
    const status = HTTP_STATUS[code as keyof typeof HTTP_STATUS]
    expect([400, 500, 503]).toContain(status)
    expect(httpStatusOf(code)).toBe(status)
    expect(new ErrorClass('what went wrong').statusCode).toBe(status)
  })

  it('the table names no code the errors map lacks', () => {
    expect(Object.keys(HTTP_STATUS).sort()).toEqual(Object.keys(errors).sort())
  })

  it('retry later (503) for what passes, 500 for what the app must fix, 400 for a client token', () => {
    expect(httpStatusOf('ERR_DB_BUCKET_MOVING')).toBe(503)
    expect(httpStatusOf('ERR_DB_SHARDS_FAILED')).toBe(503)
    expect(httpStatusOf('ERR_DB_NO_SHARD')).toBe(500)
    expect(httpStatusOf('ERR_DB_SHARD_KEY_REQUIRED')).toBe(500)
    expect(httpStatusOf('ERR_DB_CROSS_SHARD')).toBe(500)
    expect(httpStatusOf('ERR_DB_INVALID_TOKEN')).toBe(400)
    expect(httpStatusOf('ERR_SOMETHING_ELSE')).toBe(500)
    expect(httpStatusOf(new Error('no code'))).toBe(500)
    expect(httpStatusOf(null)).toBe(500)
  })

  it('a cross-shard failure is 503 only while every shard failed in a way that passes', () => {
    const timedOut = { shard: 'a', error: new DbTimeoutError('slow') }
    const sqlError = { shard: 'b', error: Object.assign(new Error('syntax error'), { code: '42601' }) }
    const passing = new DbShardsFailedError('1 of 3 shards failed', { failures: [timedOut] })
    const broken = new DbShardsFailedError('2 of 3 shards failed', { failures: [timedOut, sqlError] })
    expect(passing.statusCode).toBe(503)
    expect(httpStatusOf(passing)).toBe(503)
    expect(broken.statusCode).toBe(500)
    expect(httpStatusOf(broken)).toBe(500)
  })

  it('only a bucket being moved says when to retry (Retry-After)', () => {
    for (const [code, ErrorClass] of classes) {
      const headers = new ErrorClass('x').headers
      if (code === 'ERR_DB_BUCKET_MOVING') expect(headers).toEqual({ 'retry-after': '1' })
      else expect(headers).toBeUndefined()
    }
  })
})

/** What the frameworks' default error handlers answer for an error thrown by a route. */
async function answers(error: DbRouterError): Promise<{ status: number; retryAfter: string | null }[]> {
  const app = express()
  app.get('/', () => {
    throw error
  })
  const server = app.listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    const { port } = server.address() as AddressInfo
    const viaExpress = await fetch(`http://127.0.0.1:${port}/`)
    const fastify = Fastify()
    fastify.get('/', () => {
      throw error
    })
    const viaFastify = await fastify.inject({ method: 'GET', url: '/' })
    await fastify.close()
    return [
      { status: viaExpress.status, retryAfter: viaExpress.headers.get('retry-after') },
      {
        status: viaFastify.statusCode,
        retryAfter: viaFastify.headers['retry-after'] ?? null,
      },
    ]
  } finally {
    server.close()
  }
}

describe("the frameworks' default error handlers answer with the table (Express 5, Fastify 5)", () => {
  it('a write fenced by a bucket move: 503 with Retry-After', async () => {
    const moving = new DbBucketMovingError('bucket 17 is being moved')
    expect(await answers(moving)).toEqual([
      { status: 503, retryAfter: '1' },
      { status: 503, retryAfter: '1' },
    ])
  })

  it('a key no shard owns: 500, no Retry-After', async () => {
    const noShard = new DbNoShardError('no shard for key 42')
    expect(await answers(noShard)).toEqual([
      { status: 500, retryAfter: null },
      { status: 500, retryAfter: null },
    ])
  })
})
