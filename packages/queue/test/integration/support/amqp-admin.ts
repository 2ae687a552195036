import { connect } from 'amqplib'
import type { Channel } from 'amqplib'
import { serviceUrls } from '@scalekit/test-utils'

/** Runs `fn` on a throwaway channel of a throwaway connection to `url`. */
export async function withChannel<T>(
  fn: (ch: Channel) => Promise<T>,
  url: string = serviceUrls.amqp,
): Promise<T> {
  const connection = await connect(url, { timeout: 5_000 })
  connection.on('error', () => undefined)
  try {
    const ch = await connection.createChannel()
    ch.on('error', () => undefined)
    return await fn(ch)
  } finally {
    await connection.close().catch(() => undefined)
  }
}

/** Deletes every queue and exchange app `app` may have declared for these types and groups. */
export async function deleteTopology(
  app: string,
  types: readonly string[],
  groups: readonly string[],
  url?: string,
): Promise<void> {
  const queues = [
    ...types.flatMap((t) => groups.map((g) => `${app}.${g}.${t}`)),
    ...groups.map((g) => `${app}.${g}:dead-letter`),
    ...Array.from({ length: 21 }, (_, k) => `${app}:delay:${100 * 2 ** k}`),
  ]
  await withChannel(async (ch) => {
    // Deleting a queue that does not exist succeeds on RabbitMQ 3.x.
    for (const q of queues) await ch.deleteQueue(q)
    await ch.deleteExchange(app)
    await ch.deleteExchange(`${app}:delay`)
  }, url)
}
