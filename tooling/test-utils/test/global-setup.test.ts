import { afterEach, describe, expect, it, vi } from 'vitest'
import { freePort } from '../src/free-port'

describe('global-setup', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
    vi.resetModules()
  })

  it('passes when pg, redis and amqp answer', async () => {
    const { default: globalSetup } = await import('../src/global-setup')
    await expect(globalSetup()).resolves.toBeUndefined()
  })

  it('fails fast, naming the service and the command, when one is down', async () => {
    vi.stubEnv('SCALEKIT_REDIS_URL', `redis://127.0.0.1:${await freePort()}`)
    const { default: globalSetup } = await import('../src/global-setup')
    const started = performance.now()
    await expect(globalSetup()).rejects.toThrow(
      /redis at redis:\/\/127\.0\.0\.1:\d+[\s\S]*sudo bash scripts\/services\.sh up/,
    )
    expect(performance.now() - started).toBeLessThan(10_000)
  })
})
