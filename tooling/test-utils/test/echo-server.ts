import { connect, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { once } from 'node:events'

/** A TCP echo server for the fault proxy's tests: what goes in comes back, so any delay or loss is the proxy's. */
export interface EchoServer {
  readonly port: number
  close(): Promise<void>
}

export async function startEchoServer(): Promise<EchoServer> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
    socket.on('close', () => sockets.delete(socket))
    socket.pipe(socket)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (typeof address !== 'object' || address === null) throw new Error('echo server has no port')
  return {
    port: address.port,
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => {
        server.close(() => {
          resolve()
        })
      })
    },
  }
}

/** A raw client that records how its connection ended, and sends a line and awaits the echo. */
export interface EchoClient {
  readonly socket: Socket
  /** Set when the server side ended (FIN), the socket closed, or it errored. */
  readonly events: { ended: boolean; closed: boolean; error: NodeJS.ErrnoException | undefined }
  /** What came back since the last `roundTrip` started. */
  readonly received: string
  /** Sends `text` and resolves with what came back once it all has, or `undefined` after `timeoutMs`. */
  roundTrip(text: string, timeoutMs?: number): Promise<string | undefined>
}

export async function connectEchoClient(port: number): Promise<EchoClient> {
  const socket = connect({ host: '127.0.0.1', port })
  const events: EchoClient['events'] = { ended: false, closed: false, error: undefined }
  let received = ''
  socket.setEncoding('utf8')
  socket.on('data', (text: string) => {
    received += text
  })
  socket.on('end', () => {
    events.ended = true
  })
  socket.on('close', () => {
    events.closed = true
  })
  socket.on('error', (error: NodeJS.ErrnoException) => {
    events.error = error
  })
  await once(socket, 'connect')
  return {
    socket,
    events,
    get received() {
      return received
    },
    async roundTrip(text, timeoutMs = 3000) {
      received = ''
      socket.write(text)
      const deadline = Date.now() + timeoutMs
      while (received.length < text.length && Date.now() < deadline && !events.closed) {
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      return received.length >= text.length ? received : undefined
    },
  }
}
