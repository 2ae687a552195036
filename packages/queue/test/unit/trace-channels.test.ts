import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { waitFor } from '@scalekit/test-utils'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'
import type { QueueConsumeContext, QueuePublishContext } from '../../src/index'

const T = defineMessage('trace.channel', z.object({ n: z.number() }))
const GIVEN = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
const BRIDGE = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'

/**
 * The trace context on the channels, for a tracing bridge: the publish context carries the
 * traceparent the message will carry (a `start` subscriber may replace it with its producer span's),
 * the consume context the one the handler runs under.
 */
describe('traceparent on scalekit:queue:publish and scalekit:queue:consume', () => {
  let replaceWith: ((ctx: QueuePublishContext) => string) | undefined
  const onPublishStart = (m: unknown): void => {
    const ctx = m as QueuePublishContext
    if (replaceWith !== undefined) ctx.traceparent = replaceWith(ctx)
  }
  const seenAtPublish: string[] = []
  const consumeStarts: QueueConsumeContext[] = []
  const onPublishStartRecord = (m: unknown): void =>
    void seenAtPublish.push((m as QueuePublishContext).traceparent)
  const onConsumeStart = (m: unknown): void => void consumeStarts.push({ ...(m as QueueConsumeContext) })
  beforeEach(() => {
    subscribe('tracing:scalekit:queue:publish:start', onPublishStartRecord)
    subscribe('tracing:scalekit:queue:publish:start', onPublishStart)
    subscribe('tracing:scalekit:queue:consume:start', onConsumeStart)
  })
  afterEach(() => {
    unsubscribe('tracing:scalekit:queue:publish:start', onPublishStartRecord)
    unsubscribe('tracing:scalekit:queue:publish:start', onPublishStart)
    unsubscribe('tracing:scalekit:queue:consume:start', onConsumeStart)
    replaceWith = undefined
    seenAtPublish.length = 0
    consumeStarts.length = 0
  })

  const run = async (
    app: string,
    publishTraceparent: string | undefined,
  ): Promise<{ handler: string; consume: string; messageId: string }> => {
    seenAtPublish.length = 0
    consumeStarts.length = 0
    const q = createQueue({ url: 'memory:', app })
    const seen: string[] = []
    q.consume(T, (_, ctx) => void seen.push(ctx.traceparent), { group: 'g' })
    const { messageId } = await q.publish(
      T,
      { n: 1 },
      publishTraceparent === undefined ? {} : { traceparent: publishTraceparent },
    )
    await waitFor(() => seen.length === 1, { message: 'handled' })
    await q.close()
    return { handler: seen[0] ?? '', consume: consumeStarts[0]?.traceparent ?? '', messageId }
  }

  it('publish: the context carries the message traceparent; a start subscriber replaces it', async () => {
    replaceWith = () => BRIDGE
    const { handler, consume } = await run('unit_trace_replace', GIVEN)
    expect(seenAtPublish).toEqual([GIVEN])
    expect(handler).toBe(BRIDGE)
    expect(consume).toBe(BRIDGE)
  })

  it('publish: a replacement that is not a traceparent is ignored; an empty one means none', async () => {
    replaceWith = () => 'not a traceparent'
    expect((await run('unit_trace_junk', GIVEN)).handler).toBe(GIVEN)
    replaceWith = () => ''
    const { handler, consume, messageId } = await run('unit_trace_empty', GIVEN)
    // None carried: the handler runs in the trace its message id names, and the channel says the same.
    expect(handler).toMatch(new RegExp(`^00-${messageId.replaceAll('-', '')}-[0-9a-f]{16}-01$`))
    expect(consume).toBe(handler)
  })

  it('consume: the context carries the traceparent the handler runs under', async () => {
    const { handler, consume } = await run('unit_trace_consume', undefined)
    expect(consume).toBe(handler)
    expect(consume).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  })
})
