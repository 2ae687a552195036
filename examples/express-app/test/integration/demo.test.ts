import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../../../', import.meta.url))

describe('npm run demo (scripts/demo.ts, after its install and build steps)', () => {
  it('runs on embedded defaults to its report and exits 0', async () => {
    const env = { ...process.env }
    for (const name of ['DATABASE_URL', 'DATABASE_REPLICA_URLS', 'REDIS_URL', 'AMQP_URL']) env[name] = ''
    // execFile rejects on a non-zero exit code: the assertions below only run after an exit 0.
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
      cwd: root,
      env,
      timeout: 90_000,
    })
    expect(stdout).toContain('on embedded defaults')
    expect(stdout).toMatch(
      /500 concurrent GET \/products\/:id on a cold product: 500 answered 200, 1 database load /,
    )
    expect(stdout).toMatch(/hit ratio over the burst and 100 reads after it: 99\.\d%/)
    expect(stdout).toMatch(/order \d+ fulfilled by the worker/)
    expect(stdout).toMatch(/then 429 with Retry-After: \d+ s/)
    expect(stdout).toContain('scalekit_cache_gets_total')
    expect(stdout).toContain('graceful shutdown, exit code 0')
  }, 120_000)
})
