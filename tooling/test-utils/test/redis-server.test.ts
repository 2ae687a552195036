import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedisServer } from '../src/redis-server'
import type { RedisServer } from '../src/redis-server'
import { checkService } from '../src/services'

describe('startRedisServer', () => {
  let server: RedisServer

  beforeAll(async () => {
    server = await startRedisServer()
  })

  afterAll(async () => {
    await server.close()
  })

  it('starts a private Redis on its own port that answers PING', async () => {
    expect(server.port).not.toBe(6379)
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`)
    expect(server.running).toBe(true)
    expect(await ping(server.url)).toBe('PONG')
  })

  it('stop() shuts it down: connections are refused; restart() brings it back on the same port', async () => {
    const port = server.port
    await server.stop()
    expect(server.running).toBe(false)
    const check = await checkService('redis', server.url)
    expect(check.ok ? 'answered' : check.reason).toContain('ECONNREFUSED')

    await server.restart()
    expect(server.port).toBe(port)
    expect(await ping(server.url)).toBe('PONG')
  })

  it('kill() SIGKILLs it, as a crash; restart() recovers, empty (no persistence)', async () => {
    const redis = new Redis(server.url)
    await redis.set('k', 'v')
    redis.disconnect()
    await server.kill()
    expect(server.running).toBe(false)
    expect((await checkService('redis', server.url)).ok).toBe(false)

    await server.restart()
    const after = new Redis(server.url)
    expect(await after.get('k')).toBeNull()
    after.disconnect()
  })

  it('fails with its log when the port is taken', async () => {
    await expect(startRedisServer({ port: server.port })).rejects.toThrow(
      /exited with code 1[\s\S]*--- log ---/,
    )
  })
})

async function ping(url: string): Promise<string> {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null })
  try {
    return await redis.ping()
  } finally {
    redis.disconnect()
  }
}
