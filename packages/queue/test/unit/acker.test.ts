import type { Channel, Message } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { Acker } from '../../src/drivers/amqp/acker'

/** Records what would go to the broker: [method, deliveryTag, multiple]. */
const fakeChannel = (): { ch: Channel; sent: [string, number, boolean][] } => {
  const sent: [string, number, boolean][] = []
  const ch = {
    ack: (m: Message, multiple?: boolean) => sent.push(['ack', m.fields.deliveryTag, multiple === true]),
    nack: (m: Message, multiple?: boolean) => sent.push(['nack', m.fields.deliveryTag, multiple === true]),
  } as unknown as Channel
  return { ch, sent }
}

const nextTurn = async (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('acker', () => {
  it('sends a run of consecutive acks as one multiple ack on the next turn', async () => {
    const { ch, sent } = fakeChannel()
    const acker = new Acker(ch)
    for (let tag = 1; tag <= 5; tag++) acker.delivered(tag)
    for (const tag of [2, 1, 3]) acker.ack(tag)
    expect(sent).toEqual([])
    await nextTurn()
    expect(sent).toEqual([['ack', 3, true]])
  })

  it('never holds an ack behind a running message, and requeues at once', async () => {
    const { ch, sent } = fakeChannel()
    const acker = new Acker(ch)
    for (let tag = 1; tag <= 4; tag++) acker.delivered(tag)
    acker.ack(3)
    acker.requeue(2)
    expect(sent).toEqual([['nack', 2, false]])
    await nextTurn()
    // 1 still runs: 3 goes alone, not as a multiple ack that would cover 1.
    expect(sent).toEqual([
      ['nack', 2, false],
      ['ack', 3, false],
    ])
    acker.ack(1)
    acker.ack(4)
    acker.flush()
    // 2 and 3 are settled already: one multiple ack up to 4 covers exactly 1 and 4.
    expect(sent.slice(2)).toEqual([['ack', 4, true]])
  })

  it('settles each tag once; discard drops what is pending', async () => {
    const { ch, sent } = fakeChannel()
    const acker = new Acker(ch)
    acker.delivered(1)
    acker.delivered(2)
    acker.ack(1)
    acker.ack(1)
    acker.requeue(1)
    acker.ack(2)
    acker.discard()
    await nextTurn()
    expect(sent).toEqual([])
  })
})
