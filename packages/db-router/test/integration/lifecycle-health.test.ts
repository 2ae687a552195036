import { freePort, requireServices, serviceUrls, spawnWorker } from '@scalekit/test-utils'
import pg from 'pg'
import { beforeAll, describe, expect, it } from 'vitest'
import { createDbRouter } from '../../src/index'
import type { Logger } from '../../src/index'

function recordingLogger(): Logger & { readonly warnings: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = []
  return {
    warnings,
    warn: (obj) => {
      warnings.push(obj as Record<string, unknown>)
    },
  }
}

describe('health, shutdown and misconfiguration a newcomer meets (issue 13, items 3, 7, 8)', () => {
  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica')
  })

  it('the first checkHealth() of a router whose primary is dead says down', async () => {
    const dead = `postgres://postgres@127.0.0.1:${await freePort()}/test`
    const db = createDbRouter({ primary: dead, replicas: [], health: { timeout: 2000 } })
    try {
      const health = await db.checkHealth()
      expect(health.status).toBe('down')
      expect(health.primary.state).toBe('down')
    } finally {
      await db.close()
    }
  })

  it('the first checkHealth() of a router whose replica is dead says so (degraded, replica down)', async () => {
    const dead = `postgres://postgres@127.0.0.1:${await freePort()}/test`
    const db = createDbRouter({ primary: serviceUrls.pgPrimary, replicas: [dead] })
    try {
      const health = await db.checkHealth()
      expect(health.primary.state).toBe('up')
      expect(health.replicas[0]?.state).toBe('down')
      expect(health.status).toBe('degraded')
    } finally {
      await db.close()
    }
  })

  it('a replica URL that is the primary under another spelling is detected and reported, not "promoted"', async () => {
    const primary = new URL(serviceUrls.pgPrimary)
    const sameServer = new URL(serviceUrls.pgPrimary)
    sameServer.hostname = primary.hostname === 'localhost' ? '127.0.0.1' : 'localhost'
    const logger = recordingLogger()
    const db = createDbRouter({ primary: primary.href, replicas: [sameServer.href], logger })
    try {
      const health = await db.checkHealth()
      expect(health.replicas[0]?.state).toBe('is-primary')
      expect(health.replicas[0]?.usable).toBe(false)
      expect(health.status).toBe('degraded')
      expect(logger.warnings).toContainEqual(
        expect.objectContaining({ code: 'ERR_DB_REPLICA_IS_PRIMARY', node: 'replica-0' }),
      )
      // A real replica of it is not mistaken for it.
      const real = createDbRouter({ primary: primary.href, replicas: [serviceUrls.pgReplica] })
      expect((await real.checkHealth()).replicas[0]?.state).toBe('up')
      await real.close()
    } finally {
      await db.close()
    }
  })

  it('a connected pg.Client is refused at construction with a coded error (it crashed the process), and still works', async () => {
    const client = new pg.Client({ connectionString: serviceUrls.pgPrimary })
    await client.connect()
    try {
      expect(() => createDbRouter({ primary: client })).toThrow(
        expect.objectContaining({ code: 'ERR_DB_INVALID_OPTIONS' }),
      )
      expect(() => createDbRouter({ primary: serviceUrls.pgPrimary, replicas: [client] })).toThrow(
        expect.objectContaining({ code: 'ERR_DB_INVALID_OPTIONS' }),
      )
      expect((await client.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    } finally {
      await client.end()
    }
  })

  it('a router never closed does not keep the process alive once idle (as a raw pg.Pool does not)', async () => {
    const worker = spawnWorker<{ one: number; status: string }>({
      script: new URL('./fixtures/idle-exit-worker.ts', import.meta.url),
      env: { PRIMARY_URL: serviceUrls.pgPrimary, REPLICA_URL: serviceUrls.pgReplica },
      timeoutMs: 40_000,
    })
    const [result, exit] = await Promise.all([worker.result, worker.exited])
    expect(result).toEqual({ one: 1, status: 'ok' })
    expect(worker.timedOut).toBe(false)
    expect(exit.code).toBe(0)
  })
})
