import { AsyncLocalStorage } from 'node:async_hooks'
import type { Principal } from './adapters/credentials'
import type { SessionHandle } from './adapters/session-handle'

/** What the adapters know about the request in flight. */
interface RequestContext {
  auth?: Principal
  session?: SessionHandle
}

const storage = new AsyncLocalStorage<RequestContext>()

/** Runs `fn` with a request context of its own (the adapters call this once per request). */
export function runWithContext<T>(fn: () => T): T {
  const existing = storage.getStore()
  return existing === undefined ? storage.run({}, fn) : fn()
}

/** Records the request's principal or session in its context, if there is one. */
export function setContext(update: RequestContext): void {
  const context = storage.getStore()
  if (context !== undefined) Object.assign(context, update)
}

/**
 * Who the request in flight authenticated as (set by the Express or Fastify `authenticate`), or
 * undefined outside a request or before authentication. Readable anywhere below the handler.
 */
export function currentAuth(): Principal | undefined {
  return storage.getStore()?.auth
}

/** The server session of the request in flight (set by the adapters' `session`), or undefined. */
export function currentSession(): SessionHandle | undefined {
  return storage.getStore()?.session
}
