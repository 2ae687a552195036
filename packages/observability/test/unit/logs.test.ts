import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import {
  createLogger,
  createRequestContext,
  getRequestContext,
  outgoingTraceparent,
  parseTraceparent,
  runWithMessageContext,
  runWithRequestContext,
} from '../../src/index'

function capture() {
  const lines: Record<string, unknown>[] = []
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(JSON.parse(chunk.toString('utf8')) as Record<string, unknown>)
      done()
    },
  })
  return { lines, destination }
}

describe('createLogger', () => {
  it('adds the request context to every line inside a request, nothing outside', () => {
    const { lines, destination } = capture()
    const logger = createLogger({ destination })
    logger.info('outside')
    const context = createRequestContext(
      { requestId: 'r-1', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      () => '/users/:id',
    )
    runWithRequestContext(context, () => {
      logger.info({ orderId: 1 }, 'inside')
    })
    expect(lines[0]).not.toHaveProperty('requestId')
    expect(lines[1]).toMatchObject({
      msg: 'inside',
      orderId: 1,
      requestId: 'r-1',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      route: '/users/:id',
    })
    expect(lines[1]?.spanId).toMatch(/^[0-9a-f]{16}$/)
    expect(lines[1]?.spanId).not.toBe('b7ad6b7169203331')
  })

  it('redacts authorization headers, cookies and tokens by default, and extra paths on request', () => {
    const { lines, destination } = capture()
    const logger = createLogger({ destination, redact: ['body.card'] })
    logger.info(
      {
        req: { headers: { authorization: 'Bearer abc', cookie: 'sid=1', accept: 'json' } },
        res: { headers: { 'set-cookie': 'sid=2' } },
        token: 't',
        user: { password: 'p', refreshToken: 'r', name: 'ada' },
        body: { card: '4242' },
      },
      'x',
    )
    const text = JSON.stringify(lines[0])
    for (const secret of ['Bearer abc', 'sid=1', 'sid=2', '"t"', '"p"', '"r"', '4242'])
      expect(text).not.toContain(secret)
    expect(lines[0]).toMatchObject({
      req: { headers: { accept: 'json', authorization: '[redacted]' } },
      user: { name: 'ada' },
    })
  })

  it('fits the logger option of every scalekit package (pino shape: warn(obj, msg))', () => {
    const { lines, destination } = capture()
    const logger: { warn(obj: object, msg?: string): void; info?(obj: object, msg?: string): void } =
      createLogger({ destination })
    logger.warn({ code: 'ERR_X' }, 'trouble')
    expect(lines[0]).toMatchObject({ level: 40, code: 'ERR_X', msg: 'trouble' })
  })

  it('refuses bad options with a coded error', () => {
    expect(() => createLogger({ redact: 'x' as unknown as string[] })).toThrow(
      expect.objectContaining({ code: 'ERR_OBSERVABILITY_INVALID_OPTIONS' }),
    )
  })
})

describe('trace context', () => {
  it('parses a valid traceparent and refuses malformed ones', () => {
    expect(parseTraceparent('00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01')).toEqual({
      traceId: '0af7651916cd43dd8448eb211c80319c',
      spanId: 'b7ad6b7169203331',
      traceFlags: '01',
    })
    for (const bad of [
      '',
      'x',
      '00-00000000000000000000000000000000-b7ad6b7169203331-01',
      'ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
      '00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01',
    ])
      expect(parseTraceparent(bad)).toBeUndefined()
  })

  it('continues the trace on outgoing calls with this hop as parent', () => {
    const context = createRequestContext({
      requestId: 'r',
      traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    })
    expect(outgoingTraceparent(context)).toBe(`00-0af7651916cd43dd8448eb211c80319c-${context.spanId}-01`)
    expect(outgoingTraceparent(undefined)).toBeUndefined()
  })

  it('restores a message context: correlation id as request id, the same trace', () => {
    const seen = runWithMessageContext(
      {
        correlationId: 'req-9',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        messageId: 'm',
      },
      () => getRequestContext(),
    )
    expect(seen).toMatchObject({
      requestId: 'req-9',
      traceId: '0af7651916cd43dd8448eb211c80319c',
      parentSpanId: 'b7ad6b7169203331',
    })
    expect(runWithMessageContext({ messageId: 'm-1' }, () => getRequestContext()?.requestId)).toBe('m-1')
    expect(
      runWithMessageContext({ correlationId: 'bad id\n' }, () => getRequestContext()?.requestId),
    ).toMatch(/^[0-9a-f-]{36}$/)
  })
})
