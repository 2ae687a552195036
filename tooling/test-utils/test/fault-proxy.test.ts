import { connect } from 'node:net'
import type { NetConnectOpts } from 'node:net'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startFaultProxy } from '../src/fault-proxy'
import type { FaultProxy } from '../src/fault-proxy'
import { waitFor } from '../src/wait-for'
import { connectEchoClient, startEchoServer } from './echo-server'
import type { EchoClient, EchoServer } from './echo-server'

describe('startFaultProxy against an echo server', () => {
  let echo: EchoServer
  let proxy: FaultProxy
  let client: EchoClient

  beforeEach(async () => {
    echo = await startEchoServer()
    proxy = await startFaultProxy({ target: { host: '127.0.0.1', port: echo.port } })
    client = await connectEchoClient(proxy.port)
  })

  afterEach(async () => {
    client.socket.destroy()
    await proxy.close()
    await echo.close()
  })

  it('forwards both ways and counts bytes and connections', async () => {
    expect(await client.roundTrip('hello')).toBe('hello')
    expect(proxy.connections).toBe(1)
    expect(proxy.stats).toMatchObject({ accepted: 1, bytesToTarget: 5, bytesToClient: 5, bytesDiscarded: 0 })
  })

  it('setLatency delays each chunk each way, in order', async () => {
    proxy.setLatency(250)
    const started = performance.now()
    expect(await client.roundTrip('a-b-c-d')).toBe('a-b-c-d')
    // Both directions are delayed: at least 2 × 250 ms, less a little timer slack.
    expect(performance.now() - started).toBeGreaterThanOrEqual(490)

    await proxy.heal()
    const healed = performance.now()
    expect(await client.roundTrip('fast')).toBe('fast')
    expect(performance.now() - healed).toBeLessThan(490)
  })

  it('keeps order when the latency is lowered between chunks', async () => {
    proxy.setLatency(200)
    client.socket.write('first-')
    proxy.setLatency(0)
    expect(await client.roundTrip('second')).toBe('first-second')
  })

  it('pause holds data with the connection open, resume delivers it', async () => {
    proxy.pause()
    expect(await client.roundTrip('held', 400)).toBeUndefined()
    expect(client.events.closed).toBe(false)
    proxy.resume()
    await waitFor(() => client.received === 'held', { message: 'the held echo arrives after resume' })
  })

  it('blackhole discards data both ways yet keeps the connection open; heal resets what lost data', async () => {
    const idle = await connectEchoClient(proxy.port)
    proxy.blackhole()
    expect(await client.roundTrip('lost', 400)).toBeUndefined()
    expect(client.events).toMatchObject({ ended: false, closed: false })
    expect(proxy.stats.bytesDiscarded).toBe(4)
    await proxy.heal()
    await waitFor(() => client.events.closed, { message: 'the connection that lost data is reset' })
    expect(client.events.error?.code).toBe('ECONNRESET')
    expect(await idle.roundTrip('back')).toBe('back')
    idle.socket.destroy()
  })

  it('drop ends the connection with a FIN', async () => {
    proxy.drop()
    await waitFor(() => client.events.closed, { message: 'client sees the close' })
    expect(client.events.ended).toBe(true)
    expect(client.events.error).toBeUndefined()
    await waitFor(() => proxy.connections === 0, { message: 'the proxy forgets the link' })
  })

  it('reset destroys the connection with an RST: the client sees ECONNRESET', async () => {
    proxy.reset()
    await waitFor(() => client.events.closed, { message: 'client sees the close' })
    expect(client.events.error?.code).toBe('ECONNRESET')
  })

  it('refuse makes new connections fail with ECONNREFUSED, keeps open ones; heal listens again', async () => {
    await proxy.refuse()
    await expect(connectOnce({ host: '127.0.0.1', port: proxy.port })).rejects.toMatchObject({
      code: 'ECONNREFUSED',
    })
    expect(await client.roundTrip('still here')).toBe('still here')
    await proxy.heal()
    const again = await connectEchoClient(proxy.port)
    expect(await again.roundTrip('again')).toBe('again')
    again.socket.destroy()
  })

  it('url() points a service URL at the proxy', () => {
    expect(proxy.url('redis://10.0.0.1:6379/2')).toBe(`redis://127.0.0.1:${proxy.port}/2`)
    expect(proxy.url('postgres://postgres@db:5432/test')).toBe(
      `postgres://postgres@127.0.0.1:${proxy.port}/test`,
    )
  })

  it('survives a client that resets, and passes the reset on', async () => {
    client.socket.resetAndDestroy()
    await waitFor(() => proxy.connections === 0, { message: 'the link closes' })
    const next = await connectEchoClient(proxy.port)
    expect(await next.roundTrip('alive')).toBe('alive')
    next.socket.destroy()
  })
})

describe('startFaultProxy to a target that is down', () => {
  it('resets clients it cannot connect onward, and keeps running', async () => {
    const echo = await startEchoServer()
    const port = echo.port
    await echo.close()
    const proxy = await startFaultProxy({ target: `redis://127.0.0.1:${port}` })
    try {
      const client = await connectEchoClient(proxy.port)
      await waitFor(() => client.events.closed, { message: 'client sees the close' })
      expect(client.events.error?.code).toBe('ECONNRESET')
    } finally {
      await proxy.close()
    }
  })
})

async function connectOnce(options: NetConnectOpts): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = connect(options)
    socket.once('connect', () => {
      socket.destroy()
      resolve()
    })
    socket.once('error', reject)
  })
}
