/**
 * What the session benchmarks load from the package as built (`packages/session/dist`) and from the
 * package's own dependencies (express, express-session), resolved from there so the benchmark
 * workspace adds no dependency of its own for them.
 */
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'

export const sessionRequire: NodeJS.Require = createRequire(
  new URL('../../../packages/session/package.json', import.meta.url),
)

/**
 * The built package: run `pnpm --filter @scalekit/session build` first (bench:session does).
 * `SCALEKIT_SESSION_DIST` points at another build (a copy of an earlier `dist/` kept inside
 * packages/session so it resolves the same dependencies) for a before/after in one run.
 */
const dist = process.env.SCALEKIT_SESSION_DIST
  ? pathToFileURL(`${process.env.SCALEKIT_SESSION_DIST}/`)
  : new URL('../../../packages/session/dist/', import.meta.url)
export const session = (await import(
  new URL('index.js', dist).href
)) as typeof import('../../../packages/session/dist/index.js')
export const sessionExpress = (await import(
  new URL('express.js', dist).href
)) as typeof import('../../../packages/session/dist/express.js')
export const sessionExpressStore = (await import(
  new URL('express-session.js', dist).href
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
