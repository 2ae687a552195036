import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { serviceVariables } from '../src/demo/index'

const root = fileURLToPath(new URL('../../../', import.meta.url))

/**
 * `npm run demo` (scripts/demo.ts, after its install and build steps) on embedded defaults, with
 * `DEMO_APP` naming the app: Express is the demo's default, Fastify runs with `DEMO_APP=fastify`.
 */
export function demoSuite(app: 'express' | 'fastify'): void {
  describe(`npm run demo with the ${app} app`, () => {
    it('runs on embedded defaults to its report and exits 0', async () => {
      const env: NodeJS.ProcessEnv = { ...process.env, DEMO_APP: app }
      for (const name of serviceVariables) env[name] = ''
      // execFile rejects on a non-zero exit code: the assertions below only run after an exit 0.
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/demo.ts'], {
        cwd: root,
        env,
        timeout: 110_000,
      })
      expect(stdout).toContain(`the ${app} app on embedded defaults`)
      expect(stdout).toMatch(
        /500 concurrent GET \/products\/:id on a cold product: 500 answered 200, 1 database load /,
      )
      expect(stdout).toMatch(/hit ratio over the burst and 100 reads after it: 99\.\d%/)
      expect(stdout).toMatch(/600 views counted write-behind, 600 in the database after \d+ batched writes?/)
      expect(stdout).toMatch(/order \d+ fulfilled by the worker/)
      expect(stdout).toContain('all on one shard (main: the main database')
      expect(stdout).toMatch(
        /its e-mail step failed 2 times \(simulated\), retried with backoff .*, fulfilled on attempt 3/,
      )
      expect(stdout).toMatch(/whose e-mail step always fails: dead-lettered after 5 attempts \(failed: /)
      expect(stdout).toMatch(
        /refresh token reused: 401 ERR_SESSION_REVOKED \(reuse\); the family is revoked: its newest refresh token answers 401, its access token 401/,
      )
      expect(stdout).toMatch(/then 429 with Retry-After: \d+ s/)
      expect(stdout).toContain('scalekit_cache_gets_total')
      expect(stdout).toContain('graceful shutdown, exit code 0')
    }, 130_000)
  })
}
