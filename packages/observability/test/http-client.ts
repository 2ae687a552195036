import { Agent, type RequestListener, createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A response as the tests read it. */
export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: string
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 })

/** One real HTTP request to 127.0.0.1:`port`. */
export function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body })
      })
    })
    req.on('error', reject)
    req.end()
  })
}

/** `count` requests, `concurrency` at a time, to the paths `pathOf(i)` gives. */
export async function load(
  port: number,
  count: number,
  pathOf: (i: number) => string,
  concurrency = 32,
): Promise<Map<number, number>> {
  const statuses = new Map<number, number>()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++
      const { status } = await get(port, pathOf(i))
      statuses.set(status, (statuses.get(status) ?? 0) + 1)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return statuses
}

/** The sample lines of `metric` (e.g. `http_server_request_duration_seconds_count`) in exposition text. */
export function samples(text: string, metric: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `))
}

/** The value of the sample of `metric` whose labels contain every `key="value"` of `labels`. */
export function sampleValue(
  text: string,
  metric: string,
  labels: Record<string, string>,
): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`)
  const line = samples(text, metric).find((l) => wanted.every((w) => l.includes(w)))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

/** A test server on a free port of 127.0.0.1, and how to stop it. */
export interface Served {
  readonly port: number
  readonly close: () => Promise<void>
}

/** Serves `app` (an Express app, or any request listener) on a free port of 127.0.0.1. */
export async function serve(app: RequestListener): Promise<Served> {
  const server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      }),
  }
}
