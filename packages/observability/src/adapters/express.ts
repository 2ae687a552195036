import type { IncomingMessage, ServerResponse } from 'node:http'
import { runWithRequestContext } from '../context'
import { HttpObserver, type HttpObservabilityOptions, methodLabel } from '../http/observer'

export type { HttpObservabilityOptions, AccessLogger, ContextPropagator } from '../http/observer'
export { metricsHandler } from '../http/metrics-handler'

/** An Express (4 or 5) / Connect middleware; typed on Node's http types so it needs no Express types. */
export type ObservabilityMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void

interface ExpressRequest extends IncomingMessage {
  baseUrl?: string
  route?: { path?: unknown }
}

/** The route template Express matched (`baseUrl` + the route's path), or `undefined` when none did. */
function routeOf(req: ExpressRequest): string | undefined {
  const path = req.route?.path
  if (path === undefined) return undefined
  // Express 5 route paths are strings; a RegExp or array route (Express 4) is labelled by its source.
  return `${req.baseUrl ?? ''}${typeof path === 'string' ? path : path instanceof RegExp ? path.source : JSON.stringify(path)}`
}

/**
 * Request metrics (RED, by route template), the request context (request id, trace) and an access
 * log line for Express. Mount it first, before the routes.
 *
 * ```ts
 * app.use(observability({ metrics, logger }))
 * ```
 */
export function observability(options: HttpObservabilityOptions = {}): ObservabilityMiddleware {
  const observer = new HttpObserver(options)
  const header = observer.requestIdHeader
  return (req: ExpressRequest, res, next) => {
    const shed = observer.shed?.reason
    if (shed !== undefined) {
      observer.shedOne(shed)
      res.statusCode = 503
      res.setHeader('retry-after', String(observer.shed?.retryAfterSeconds ?? 1))
      res.setHeader('content-type', 'application/json')
      res.end(JSON.stringify({ code: 'ERR_OBSERVABILITY_OVERLOADED', reason: shed }))
      return
    }
    const method = methodLabel(req.method)
    const start = observer.begin(method)
    if (!observer.withContext) {
      const traceId = observer.exemplars ? observer.exemplarTraceId(req.headers, undefined) : undefined
      res.once('close', () => {
        observer.end(method, routeOf(req), res.statusCode, start, undefined, traceId)
      })
      next()
      return
    }
    const context = observer.context(req.headers, req.method, () => routeOf(req))
    res.setHeader(header, context.requestId)
    const traceId = observer.exemplars ? observer.exemplarTraceId(req.headers, context) : undefined
    res.once('close', () => {
      observer.end(method, routeOf(req), res.statusCode, start, context, traceId)
    })
    runWithRequestContext(context, () => {
      observer.enter(context, next)
    })
  }
}
