import { defineConfig } from 'vitest/config'

/**
 * Two projects: `unit` needs no service; `integration` talks to the real PostgreSQL, Redis and
 * RabbitMQ (URLs from env, see docs/services.md) and fails at once, naming the command that starts
 * them, when one does not answer.
 */
export default defineConfig({
  test: {
    reporters: ['default', './tooling/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: [
            'packages/*/test/unit/**/*.test.ts',
            'tooling/*/test/**/*.test.ts',
            'examples/*/test/unit/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['packages/*/test/integration/**/*.test.ts', 'examples/*/test/integration/**/*.test.ts'],
          globalSetup: ['tooling/test-utils/src/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
})
