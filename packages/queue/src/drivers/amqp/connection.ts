import { connect } from 'amqplib'
import type { ChannelModel } from 'amqplib'
import { channels } from '../../channels'
import type { QueueConnectionEvent } from '../../channels'
import { deferred } from '../../internal/deferred'
import { withTimeout } from '@scalekit/internal'
import { QueueAccessRefusedError, QueueUnreachableError, timedOut } from '../../errors'

/** Opens one AMQP connection within `connectTimeout`, with a heartbeat and a name the management UI shows. */
export async function openConnection(options: {
  url: string
  heartbeat: number
  connectTimeout: number
  app: string
}): Promise<ChannelModel> {
  const url = new URL(options.url)
  if (!url.searchParams.has('heartbeat')) url.searchParams.set('heartbeat', String(options.heartbeat))
  const attempt = connect(url.toString(), {
    timeout: options.connectTimeout,
    clientProperties: { connection_name: `${options.app} pid ${process.pid}` },
  })
  try {
    const connection = await withTimeout(
      attempt,
      options.connectTimeout,
      timedOut(`connect to ${url.host}`, options.connectTimeout),
    )
    batchWrites(connection)
    return connection
  } catch (error) {
    // A connection that opens after we gave up on it must not leak.
    attempt
      .then(
        async (c) => c.close(),
        () => undefined,
      )
      .catch(() => undefined)
    throw connectError(error, url)
  }
}

/** Socket errors that mean "nothing answered there" (or not yet): retried, and named as host/port trouble. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ERR_QUEUE_TIMEOUT',
])

/**
 * A failed connection attempt as a coded error saying what to check, with the socket or protocol
 * error as `cause`; never the password. amqplib reports a refused login as `403 (ACCESS-REFUSED)`
 * and a refused virtual host (missing, or not permitted) only as a `ConnectionClose` where it
 * expected `ConnectionOpenOk` (the broker's 530 text is not kept).
 */
export function connectError(error: unknown, url: URL): unknown {
  const message = error instanceof Error ? error.message : String(error)
  const where = url.host
  const user = decodeURIComponent(url.username) || 'guest'
  if (/ACCESS.REFUSED|\b403\b/.test(message)) {
    return new QueueAccessRefusedError(
      `the broker at ${where} refused the login of user '${user}' (403 ACCESS_REFUSED): check the user and password in url; not retried`,
      { cause: error },
    )
  }
  if (/Expected ConnectionOpenOk; got <ConnectionClose|NOT.ALLOWED|\b530\b/.test(message)) {
    const vhost =
      url.pathname === '' || url.pathname === '/' ? '/' : decodeURIComponent(url.pathname.slice(1))
    return new QueueAccessRefusedError(
      `the broker at ${where} refused virtual host '${vhost}' (it does not exist, or user '${user}' may not use it): check the vhost in url (its path; none means '/'); not retried`,
      { cause: error },
    )
  }
  if (/closed abruptly during opening handshake/i.test(message)) {
    return new QueueUnreachableError(
      `the server at ${where} closed the connection during the AMQP handshake: check that url names RabbitMQ's AMQP port (5672, or 5671 for amqps)`,
      { cause: error },
    )
  }
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && UNREACHABLE.has(code)) {
    return new QueueUnreachableError(
      `could not reach the broker at ${where} (${code === 'ERR_QUEUE_TIMEOUT' ? 'no answer' : code}): check the host and port in url, and that RabbitMQ runs there`,
      { cause: error },
    )
  }
  return error
}

/** The socket under an amqplib connection, as far as batching its writes needs it. */
interface Socketish {
  write: (...args: unknown[]) => boolean
  cork: () => void
  uncork: () => void
}

/**
 * Makes the writes of one turn of the event loop leave in ONE system call. amqplib writes every
 * message (and every ack) to the socket by itself, a `write` system call each; corking the socket
 * at the first write of a turn and uncorking it on the next tick sends the turn's frames together
 * (`writev`). The system calls were the largest cost per publish in a profile (see the queue
 * section of benchmarks/README.md). amqplib does not expose its socket: this reads its
 * `connection.stream` and does nothing (returns false) if that is not a corkable socket, so an
 * amqplib that moves it only loses the batching.
 */
export function batchWrites(connection: ChannelModel): boolean {
  const stream: unknown = (connection as unknown as { connection?: { stream?: unknown } }).connection?.stream
  if (!isSocketish(stream)) return false
  const write = stream.write.bind(stream)
  let corked = false
  const uncork = (): void => {
    corked = false
    stream.uncork()
  }
  stream.write = (...args: unknown[]): boolean => {
    if (!corked) {
      corked = true
      stream.cork()
      process.nextTick(uncork)
    }
    return write(...args)
  }
  return true
}

function isSocketish(value: unknown): value is Socketish {
  const s = value as Partial<Socketish> | null | undefined
  return typeof s?.write === 'function' && typeof s.cork === 'function' && typeof s.uncork === 'function'
}

/** Resolves with the reason once `connection` errors or closes; reports blocked/unblocked to `onBlocked`. */
export async function watchConnection(
  connection: ChannelModel,
  role: 'consume' | 'publish',
  onBlocked: (blocked: boolean) => void,
): Promise<unknown> {
  const lost = deferred<unknown>()
  connection.on('error', (error: unknown) => {
    lost.resolve(error)
  })
  connection.on('close', (error?: unknown) => {
    lost.resolve(error)
  })
  connection.on('blocked', (reason: string) => {
    onBlocked(true)
    emitConnectionEvent({ event: 'blocked', role, message: reason })
  })
  connection.on('unblocked', () => {
    onBlocked(false)
    emitConnectionEvent({ event: 'unblocked', role })
  })
  return lost.promise
}

/** Publishes on `scalekit:queue:connection` when someone listens. */
export function emitConnectionEvent(event: QueueConnectionEvent): void {
  if (channels.connection.hasSubscribers) channels.connection.publish(event)
}
