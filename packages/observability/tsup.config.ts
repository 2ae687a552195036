import type { Options } from 'tsup'
import { definePackageBuild } from '../../tooling/tsup-preset'

/** The package's entry points: the exports map in package.json must name exactly these. */
export const entries: Record<string, string> = {
  index: 'src/index.ts',
  express: 'src/adapters/express.ts',
  fastify: 'src/adapters/fastify.ts',
  artifacts: 'src/artifacts/index.ts',
  otel: 'src/otel.ts',
}

const config: Options = definePackageBuild(entries)
export default config
