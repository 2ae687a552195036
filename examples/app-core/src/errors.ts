import { httpStatusOf as dbStatusOf } from '@scalekit/db-router'
import { httpStatusOf as sessionStatusOf } from '@scalekit/session'
import { HttpError } from './catalogue.js'

/** Status and JSON body for an error that reached a route: ours, the session's or the db-router's. */
export function errorResponse(error: unknown): {
  status: number
  body: { code?: string; reason?: string; message: string }
} {
  const { code, reason, statusCode } = error as { code?: unknown; reason?: unknown; statusCode?: unknown }
  let status = 500
  if (error instanceof HttpError) status = error.statusCode
  else if (sessionStatusOf(error) !== 500) status = sessionStatusOf(error)
  else if (typeof statusCode === 'number' && statusCode >= 400 && statusCode < 600) status = statusCode
  else status = dbStatusOf(error)
  return {
    status,
    body: {
      code: typeof code === 'string' ? code : undefined,
      reason: typeof reason === 'string' ? reason : undefined,
      message: status >= 500 ? 'internal error' : (error as Error).message,
    },
  }
}
