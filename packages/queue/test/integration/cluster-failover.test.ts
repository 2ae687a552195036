import { startRabbitCluster, uniqueName, waitFor } from '@scalekit/test-utils'
import type { RabbitCluster } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createMemoryDedupStore, createQueue, defineMessage } from '../../src/index'
import type { Queue } from '../../src/index'

const Order = defineMessage('cluster.order', z.object({ n: z.number().int() }))

/**
 * A private three-node RabbitMQ cluster (tooling/test-utils, through scripts/services.sh): the
 * node the clients are connected to is stopped while they publish with confirms and consume.
 * Publishing and consuming go on through the other two nodes (quorum queues keep a majority), and
 * every confirmed message is handled exactly once (a redelivery after the failover is acked by
 * the dedup store without running the handler again).
 */
describe('a RabbitMQ cluster losing the node the clients are on', () => {
  let cluster: RabbitCluster
  const queues: Queue[] = []

  beforeAll(async () => {
    cluster = await startRabbitCluster('skqfail')
  }, 300_000)
  afterAll(async () => {
    await Promise.all(queues.splice(0).map(async (q) => q.close({ timeout: 5_000 })))
    await cluster.stop()
  }, 120_000)

  it('publishing and consuming continue on the others; every confirmed message is handled once', async () => {
    const app = uniqueName('cluster')
    const options = {
      url: cluster.urls,
      app,
      reconnect: { initial: 50, max: 1_000 },
      publishTimeout: 120_000,
      declare: { [Order.name]: ['billing'] },
    }
    const producer = createQueue(options)
    const consumer = createQueue(options)
    queues.push(producer, consumer)

    const handled = new Map<number, number>()
    await consumer.consume(
      Order,
      (m) => {
        handled.set(m.n, (handled.get(m.n) ?? 0) + 1)
      },
      { group: 'billing', concurrency: 8, dedup: createMemoryDedupStore() },
    ).ready

    // The group's quorum queue has a member on every node (the default initial group size).
    const listed = await cluster.ctl(
      cluster.ports[1] ?? 0,
      'list_queues',
      '--no-table-headers',
      'name',
      'type',
      'members',
    )
    const line = listed.split('\n').find((l) => l.startsWith(`${app}.billing.${Order.name}`))
    expect(line).toContain('quorum')
    for (const node of cluster.nodes) expect(line).toContain(node)

    const confirmed = new Set<number>()
    let next = 0
    let publishing = true
    let stoppedPort = 0
    const publishers = Array.from({ length: 8 }, async () => {
      while (publishing) {
        const n = next++
        try {
          await producer.publish(Order, { n }, { messageId: `order-${n}` })
          confirmed.add(n)
        } catch {
          // Not confirmed (e.g. timed out): not counted, and may or may not arrive.
        }
      }
    })

    try {
      await waitFor(() => confirmed.size >= 200 && handled.size >= 200, {
        timeout: 60_000,
        message: '200 messages through the cluster',
      })
      const onNode = consumer.health().nodes.consume
      expect(onNode).toBeDefined()
      const port = Number(new URL(`amqp://${onNode ?? ''}`).port)
      expect(cluster.ports).toContain(port)
      expect(producer.health().nodes.publish).toEqual([onNode])

      stoppedPort = port
      await cluster.stopNode(port)
      const confirmedAtStop = confirmed.size
      const handledAtStop = handled.size
      // Both clients move to another node, and messages keep flowing while the node is down.
      await waitFor(
        () =>
          confirmed.size >= confirmedAtStop + 200 &&
          handled.size >= handledAtStop + 200 &&
          consumer.health().status === 'ok',
        { timeout: 120_000, interval: 100, message: '200 more published and handled with one node down' },
      )
      const { consume } = consumer.health().nodes
      const [publish] = producer.health().nodes.publish
      expect(consume).toBeDefined()
      expect(consume).not.toBe(onNode)
      expect(publish).toBeDefined()
      expect(publish).not.toBe(onNode)
    } finally {
      publishing = false
      await Promise.all(publishers)
    }

    // Every confirmed message arrives (some may still be waiting in the queue), and runs once.
    await waitFor(() => [...confirmed].every((n) => handled.has(n)), {
      timeout: 120_000,
      interval: 100,
      message: 'every confirmed message handled',
    })
    const twice = [...handled].filter(([, count]) => count !== 1)
    expect(twice).toEqual([])

    // The stopped node comes back and rejoins the cluster.
    await cluster.startNode(stoppedPort)
    const status = await cluster.ctl(cluster.ports[0] ?? 0, 'cluster_status', '--formatter', 'json')
    const running = (JSON.parse(status) as { running_nodes: string[] }).running_nodes
    expect([...running].sort()).toEqual([...cluster.nodes].sort())
  }, 400_000)
})
