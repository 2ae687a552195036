import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Metrics } from '../metrics/metrics'

/**
 * A `/metrics` handler for Node's http server and Express: the registry's metrics in the format the
 * scraper's `Accept` header negotiates — OpenMetrics (with exemplars) when it asks for
 * `application/openmetrics-text`, else the Prometheus text format. A failing collector answers 500
 * and never throws into the app.
 *
 * ```ts
 * app.get('/metrics', metricsHandler(metrics))
 * ```
 */
export function metricsHandler(metrics: Metrics): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    metrics.exposition(req.headers.accept).then(
      ({ contentType, body }) => {
        res.statusCode = 200
        res.setHeader('content-type', contentType)
        res.end(body)
      },
      (error: unknown) => {
        res.statusCode = 500
        res.setHeader('content-type', 'text/plain; charset=utf-8')
        res.end(`metrics collection failed: ${error instanceof Error ? error.message : String(error)}\n`)
      },
    )
  }
}
