import { createServer } from 'node:net'

/**
 * A TCP port nothing listens on right now, found by binding port 0 and closing: for a child server
 * that takes its port on the command line. Another process may take it before the child does;
 * callers retry on EADDRINUSE.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, host, resolve)
  })
  const address = server.address()
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve()
    })
  })
  if (typeof address !== 'object' || address === null) throw new Error('could not read the bound port')
  return address.port
}
