/**
 * What the session benchmarks load from the package as built (`packages/session/dist`) and from the
 * package's own dependencies (express, express-session), resolved from there so the benchmark
 * workspace adds no dependency of its own for them.
 */
import { createRequire } from 'node:module'

export const sessionRequire: NodeJS.Require = createRequire(
  new URL('../../../packages/session/package.json', import.meta.url),
)

/** The built package: run `pnpm --filter @scalekit/session build` first (bench:session does). */
export const session = (await import(
  new URL('../../../packages/session/dist/index.js', import.meta.url).href
)) as typeof import('../../../packages/session/dist/index.js')
export const sessionExpress = (await import(
  new URL('../../../packages/session/dist/express.js', import.meta.url).href
)) as typeof import('../../../packages/session/dist/express.js')
export const sessionExpressStore = (await import(
  new URL('../../../packages/session/dist/express-session.js', import.meta.url).href
)) as typeof import('../../../packages/session/dist/express-session.js')

/** The few members of Express the servers use. */
export interface ExpressApp {
  use(...handlers: unknown[]): void
  get(path: string, ...handlers: unknown[]): void
  post(path: string, ...handlers: unknown[]): void
  listen(port: number, host: string, callback: () => void): import('node:http').Server
}
export interface ExpressModule {
  (): ExpressApp
  json(): unknown
}
export const express = sessionRequire('express') as ExpressModule
export const expressSession = sessionRequire('express-session') as ((
  options: Record<string, unknown>,
) => unknown) & {
  MemoryStore: new () => unknown
}
