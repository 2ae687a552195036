import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Metrics } from '../metrics/metrics'

/**
 * A `/metrics` handler for Node's http server and Express: the registry's exposition text, with its
 * content type. A failing collector answers 500 and never throws into the app.
 *
 * ```ts
 * app.get('/metrics', metricsHandler(metrics))
 * ```
 */
export function metricsHandler(metrics: Metrics): (req: IncomingMessage, res: ServerResponse) => void {
  return (_req, res) => {
    metrics.metrics().then(
      (text) => {
        res.statusCode = 200
        res.setHeader('content-type', metrics.contentType)
        res.end(text)
      },
      (error: unknown) => {
        res.statusCode = 500
        res.setHeader('content-type', 'text/plain; charset=utf-8')
        res.end(`metrics collection failed: ${error instanceof Error ? error.message : String(error)}\n`)
      },
    )
  }
}
