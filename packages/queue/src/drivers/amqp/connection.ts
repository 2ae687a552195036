import { connect } from 'amqplib'
import type { ChannelModel } from 'amqplib'
import { channels } from '../../channels'
import type { QueueConnectionEvent } from '../../channels'
import { deferred } from '../../internal/deferred'
import { withTimeout } from '@scalekit/internal'
import { timedOut } from '../../errors'

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
    throw error
  }
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
