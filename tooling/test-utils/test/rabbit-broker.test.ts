import { connect } from 'amqplib'
import { describe, expect, it } from 'vitest'
import { startRabbitBroker } from '../src/index'

describe('startRabbitBroker', () => {
  it('starts a private node that really goes away with stopApp and comes back with startApp', async () => {
    const broker = await startRabbitBroker('sktu')
    try {
      expect(broker.port).not.toBe(5672)
      const first = await connect(broker.url)
      await first.close()
      await broker.stopApp()
      await expect(connect(broker.url)).rejects.toThrow()
      await broker.startApp()
      const again = await connect(broker.url)
      await again.close()
    } finally {
      await broker.stop()
    }
    await expect(connect(broker.url)).rejects.toThrow()
  }, 120_000)
})
