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
    return await withTimeout(
      attempt,
      options.connectTimeout,
      timedOut(`connect to ${url.host}`, options.connectTimeout),
    )
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
