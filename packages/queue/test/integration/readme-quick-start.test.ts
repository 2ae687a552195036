import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import { afterAll, describe, expect, it } from 'vitest'
import { runQuickStart } from '../support/quick-start'
import { deleteTopology } from './support/amqp-admin'

describe('the README quick start, as written, against RabbitMQ', () => {
  const app = uniqueName('queue_quick')
  afterAll(async () => {
    await deleteTopology(app, ['order.placed'], ['email'])
  })

  it('runs its handler before it closes, and exits by itself', async () => {
    const result = await runQuickStart({
      "'memory:'": JSON.stringify(serviceUrls.amqp),
      "'shop'": `'${app}'`,
    })
    expect(result.stderr).toBe('')
    expect(result).toMatchObject({ code: 0, stdout: 'receipt 42\n' })
  }, 60_000)
})
