import type { IncomingMessage, ServerResponse } from 'node:http'
import { httpStatusOf } from '../http-status'
import type { DbRouter } from '../types'
import { mergeHeader, outgoing, readIncoming, resolveCarrier } from './carrier'
import type { ConsistencyCarrierOptions } from './carrier'

export type { ConsistencyCarrierOptions } from './carrier'

/** An Express (4 or 5) / Connect middleware; typed on Node's http types so it needs no Express types. */
export type ConsistencyMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void

/**
 * Opens one consistency scope per request, started from the token the request carries (header or
 * cookie), and sends the new token back when the request wrote. Mount it after body parsers: a
 * parser that calls `next()` from a stream event would run the rest outside the scope.
 *
 * Tokens from clients must be signed: the router needs `consistency.secret` (else this throws
 * `ERR_DB_INVALID_OPTIONS`), unless `acceptUnsigned: true` says the network is trusted.
 *
 * ```ts
 * app.use(express.json(), consistency(db, { cookie: true }))
 * ```
 */
export function consistency(db: DbRouter, options: ConsistencyCarrierOptions = {}): ConsistencyMiddleware {
  const carrier = resolveCarrier(db, options)
  return (req, res, next) => {
    const incoming = readIncoming(db, carrier, req.headers)
    if (incoming.kind === 'invalid' && carrier.reject) {
      res.statusCode = httpStatusOf('ERR_DB_INVALID_TOKEN')
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ code: 'ERR_DB_INVALID_TOKEN' }))
      return
    }
    const token = incoming.kind === 'token' ? incoming.token : undefined
    db.withConsistency(token, (scope) => {
      // Headers must be set before they are written: hook the (explicit or implicit) writeHead.
      const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse
      res.writeHead = (...args: unknown[]): ServerResponse => {
        if (!res.headersSent) {
          for (const [name, value] of outgoing(carrier, scope.token(), token))
            res.setHeader(name, mergeHeader(res.getHeader(name), name, value))
        }
        return writeHead(...args)
      }
      next()
    }).catch(next)
  }
}
