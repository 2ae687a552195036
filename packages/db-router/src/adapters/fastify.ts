import { AsyncResource } from 'node:async_hooks'
import type { FastifyPluginCallback, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import { httpStatusOf } from '../http-status'
import type { ConsistencyScope, DbRouter } from '../types'
import { outgoing, readIncoming, resolveCarrier } from './carrier'
import type { Carrier } from './carrier'
import type { ConsistencyCarrierOptions } from './carrier'

export type { ConsistencyCarrierOptions } from './carrier'

/** Options of {@link dbRouterPlugin}. */
export interface DbRouterPluginOptions extends ConsistencyCarrierOptions {
  /** The router; the plugin never closes it (it did not open it). Decorated as `fastify.dbRouter`. */
  db: DbRouter
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The router given to `@scalekit/db-router/fastify`. */
    dbRouter: DbRouter
  }
}

interface RequestState {
  readonly scope: ConsistencyScope
  readonly incoming: string | undefined
  readonly resource: AsyncResource
}

const plugin: FastifyPluginCallback<DbRouterPluginOptions> = (fastify, options, done) => {
  const { db } = options
  let carrier: Carrier
  try {
    // Fastify hands a plugin its register options too (prefix, logLevel…).
    carrier = resolveCarrier(db, options, ['db', 'prefix', 'logLevel', 'logSerializers'])
  } catch (error) {
    // register() rejects with it (a throw here would escape Fastify's plugin loader).
    done(error as Error)
    return
  }
  const states = new WeakMap<FastifyRequest, RequestState>()
  fastify.decorate('dbRouter', db)
  fastify.addHook('onRequest', (request, reply, next) => {
    const incoming = readIncoming(db, carrier, request.headers)
    if (incoming.kind === 'invalid' && carrier.reject) {
      void reply.code(httpStatusOf('ERR_DB_INVALID_TOKEN')).send({ code: 'ERR_DB_INVALID_TOKEN' })
      return
    }
    const token = incoming.kind === 'token' ? incoming.token : undefined
    db.withConsistency(token, (scope) => {
      // Body parsing resumes from stream events, outside this context: preValidation re-enters it.
      const resource = new AsyncResource('scalekit-db-router')
      states.set(request, { scope, incoming: token, resource })
      resource.runInAsyncScope(next)
    }).catch(next)
  })
  fastify.addHook('preValidation', (request, _reply, next) => {
    const state = states.get(request)
    if (state === undefined) next()
    else state.resource.runInAsyncScope(next)
  })
  fastify.addHook('onSend', (request, reply, payload, next) => {
    const state = states.get(request)
    if (state !== undefined) {
      for (const [name, value] of outgoing(carrier, state.scope.token(), state.incoming))
        void reply.header(name, value)
    }
    next(null, payload)
  })
  done()
}

/**
 * The Fastify (4 or 5) plugin: one consistency scope per request, started from the token the
 * request carries (header or cookie); the new token goes back on responses to requests that wrote.
 * Tokens from clients must be signed (`consistency.secret` on the router, else registering fails
 * with `ERR_DB_INVALID_OPTIONS`) unless `acceptUnsigned: true`.
 *
 * ```ts
 * await app.register(dbRouterPlugin, { db, cookie: true })
 * ```
 */
export const dbRouterPlugin: FastifyPluginCallback<DbRouterPluginOptions> = fp(plugin, {
  name: '@scalekit/db-router',
  fastify: '4.x || 5.x',
})
