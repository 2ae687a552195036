import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'
import type { Queue, QueueConnectionEvent } from '../../src/index'

const T = defineMessage('connect.failure', z.object({ n: z.number() }))

/** The shared broker's URL with another password or vhost: the broker refuses it, nothing else is touched. */
const withUrl = (edit: (url: URL) => void): string => {
  const url = new URL(serviceUrls.amqp)
  edit(url)
  return url.toString()
}

/**
 * A newcomer's misconfigurations against the real broker: each fails at once (not after
 * `publishTimeout`) with a coded error that says what to check and carries the protocol error, the
 * consumer's `ready` rejects, and a refused login or vhost is not retried.
 */
describe('a broker that refuses the connection', () => {
  const queues: Queue[] = []
  const events: QueueConnectionEvent[] = []
  const onEvent = (m: unknown): void => void events.push(m as QueueConnectionEvent)
  afterEach(async () => {
    unsubscribe('scalekit:queue:connection', onEvent)
    await Promise.all(queues.splice(0).map(async (q) => q.close({ timeout: 1_000 })))
    events.length = 0
  })

  const refused = async (url: string, check: RegExp): Promise<void> => {
    subscribe('scalekit:queue:connection', onEvent)
    const warnings: Record<string, unknown>[] = []
    const q = createQueue({
      url,
      app: uniqueName('queue_refused'),
      reconnect: { initial: 10, max: 20 },
      logger: { warn: (obj) => void warnings.push(obj as Record<string, unknown>) },
    })
    queues.push(q)
    const consumer = q.consume(T, () => undefined, { group: 'g' })
    const error = await q.publish(T, { n: 1 }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_QUEUE_ACCESS_REFUSED' })
    expect((error as Error).message).toMatch(check)
    expect((error as Error).message).not.toContain('wrong-password')
    expect((error as Error).cause).toBeInstanceOf(Error)
    await expect(consumer.ready).rejects.toMatchObject({ code: 'ERR_QUEUE_ACCESS_REFUSED' })
    // Both connections (consume, publish) tried once and gave up: no reconnecting, ever.
    await waitFor(() => events.filter((e) => e.event === 'error').length === 2, { message: 'both failed' })
    expect(events.filter((e) => e.event === 'reconnecting')).toEqual([])
    expect(q.health()).toMatchObject({
      status: 'down',
      transport: 'amqp',
      connection: 'failed',
      error: { code: 'ERR_QUEUE_ACCESS_REFUSED' },
    })
    // Later calls fail the same way at once; a later consumer too.
    await expect(q.publish(T, { n: 2 })).rejects.toMatchObject({ code: 'ERR_QUEUE_ACCESS_REFUSED' })
    await expect(q.consume(T, () => undefined, { group: 'h' }).ready).rejects.toMatchObject({
      code: 'ERR_QUEUE_ACCESS_REFUSED',
    })
    expect(warnings.length).toBeGreaterThan(0)
    expect(warnings[0]).toMatchObject({ package: '@scalekit/queue', code: 'ERR_QUEUE_ACCESS_REFUSED' })
    expect(JSON.stringify(warnings)).not.toContain('wrong-password')
  }

  it('a refused login (403 ACCESS_REFUSED): ERR_QUEUE_ACCESS_REFUSED naming the user and the credentials, not retried', async () => {
    await refused(
      withUrl((u) => (u.password = 'wrong-password')),
      /refused the login of user 'guest' \(403 ACCESS_REFUSED\): check the user and password/,
    )
  })

  it('a vhost that does not exist: ERR_QUEUE_ACCESS_REFUSED naming the vhost, not retried', async () => {
    const vhost = uniqueName('no_such_vhost')
    await refused(
      withUrl((u) => (u.pathname = `/${vhost}`)),
      new RegExp(`refused virtual host '${vhost}'.*check the vhost`),
    )
  })
})
