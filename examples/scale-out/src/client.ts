import { request } from 'node:http'

/** What a request answered: its status, parsed JSON body (or null) and headers. */
export interface Answer<T = unknown> {
  readonly status: number
  readonly body: T
  readonly headers: Headers
}

/** One JSON request with `fetch`; a network error or a 10 s timeout answers status 0. */
export async function call<T = unknown>(
  url: string,
  options: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers['authorization'] = `Bearer ${options.token}`
  if (options.body !== undefined) headers['content-type'] = 'application/json'
  try {
    const res = await fetch(url, {
      method: options.method ?? 'GET',
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(10_000),
    })
    const text = await res.text()
    let body: unknown = null
    try {
      body = text === '' ? null : JSON.parse(text)
    } catch {
      body = text
    }
    return { status: res.status, body: body as T, headers: res.headers }
  } catch {
    return { status: 0, body: null as T, headers: new Headers() }
  }
}

/**
 * A POST with JSON from a chosen loopback source address (`127.x.y.z`): the app keys the login
 * limit by client address, so a check of its own gets a key no other request shares.
 */
export async function postFrom(localAddress: string, url: string, body: unknown): Promise<number> {
  const target = new URL(url)
  const payload = JSON.stringify(body)
  return new Promise((resolve) => {
    const req = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: 'POST',
        localAddress,
        agent: false,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
        timeout: 10_000,
      },
      (res) => {
        res.resume()
        res.on('end', () => {
          resolve(res.statusCode ?? 0)
        })
      },
    )
    req.on('error', () => {
      resolve(0)
    })
    req.on('timeout', () => req.destroy())
    req.end(payload)
  })
}

/** Logs in through `base` and returns the access and refresh tokens. */
export async function login(
  base: string,
  email: string,
  password: string,
): Promise<{ accessToken: string; refreshToken: string }> {
  const answer = await call<{ accessToken: string; refreshToken: string }>(`${base}/login`, {
    method: 'POST',
    body: { email, password },
  })
  if (answer.status !== 200) throw new Error(`login of ${email} answered ${answer.status}`)
  return answer.body
}
