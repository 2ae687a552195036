import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { freePort, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'
import type { Queue, QueueConnectionEvent } from '../../src/index'

const T = defineMessage('cluster.urls', z.object({ n: z.number() }))

/**
 * `url` as a list of nodes, on the shared broker and ports where nothing listens: the client
 * skips a node that does not answer, says which node it is on, and fails at once only after
 * every node of a round failed. (The failover of a real cluster: cluster-failover.test.ts.)
 */
describe('url as a list of nodes', () => {
  const queues: Queue[] = []
  const events: QueueConnectionEvent[] = []
  const onEvent = (m: unknown): void => void events.push(m as QueueConnectionEvent)
  afterEach(async () => {
    unsubscribe('scalekit:queue:connection', onEvent)
    await Promise.all(queues.splice(0).map(async (q) => q.close({ timeout: 2_000 })))
    events.length = 0
  })

  it('connects to the first node that answers: a dead first node is skipped, health() names the node', async () => {
    subscribe('scalekit:queue:connection', onEvent)
    const dead = `amqp://guest:guest@127.0.0.1:${await freePort()}`
    const live = new URL(serviceUrls.amqp)
    const q = createQueue({
      url: [dead, serviceUrls.amqp],
      app: uniqueName('queue_urls'),
      // A backoff longer than the test: getting through means the second node was tried at once.
      reconnect: { initial: 60_000, max: 60_000, jitter: 0 },
    })
    queues.push(q)
    expect(q.health().nodes).toEqual({ consume: undefined, publish: [] })
    const got: number[] = []
    await q.consume(T, (m) => void got.push(m.n), { group: 'g' }).ready
    await q.publish(T, { n: 1 })
    expect(q.health()).toMatchObject({
      status: 'ok',
      connection: 'connected',
      nodes: { consume: live.host, publish: [live.host] },
    })
    // Each connection failed on the dead node first, and never waited a backoff.
    expect(events.filter((e) => e.event === 'error').length).toBeGreaterThanOrEqual(2)
    expect(events.filter((e) => e.event === 'reconnecting')).toEqual([])
  })

  it('fails at once only after every node of a round failed, naming the last node tried', async () => {
    const [a, b] = [await freePort(), await freePort()]
    const q = createQueue({
      url: [`amqp://guest:guest@127.0.0.1:${a}`, `amqp://guest:guest@127.0.0.1:${b}`],
      app: uniqueName('queue_urls_dead'),
      reconnect: { initial: 60_000, max: 60_000, jitter: 0 },
    })
    queues.push(q)
    const error = await q.publish(T, { n: 1 }).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'ERR_QUEUE_UNREACHABLE' })
    expect((error as Error).message).toContain(`127.0.0.1:${b}`)
    expect(q.health().nodes).toEqual({ consume: undefined, publish: [] })
  })
})
