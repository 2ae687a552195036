import { Client } from 'pg'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { startFaultProxy } from '../src/fault-proxy'
import type { FaultProxy } from '../src/fault-proxy'
import { requireServices, serviceUrls } from '../src/services'
import { waitFor } from '../src/wait-for'

describe('startFaultProxy against the real PostgreSQL', () => {
  let proxy: FaultProxy
  let client: Client
  let seen: { errors: Error[] }

  beforeAll(async () => {
    await requireServices('pg')
  })

  beforeEach(async () => {
    proxy = await startFaultProxy({ target: serviceUrls.pg })
    client = new Client({ connectionString: proxy.url(serviceUrls.pg), query_timeout: 500 })
    const mine = { errors: [] as Error[] }
    seen = mine
    client.on('error', (error) => mine.errors.push(error))
    await client.connect()
  })

  afterEach(async () => {
    await client.end().catch(() => undefined)
    await proxy.close()
  })

  it('forwards the PostgreSQL protocol', async () => {
    const { rows } = await client.query<{ one: number }>('SELECT 1 AS one')
    expect(rows).toEqual([{ one: 1 }])
  })

  it('blackhole: the query times out on the client side', async () => {
    proxy.blackhole()
    await expect(client.query('SELECT 1')).rejects.toThrow(/timeout/i)
  })

  it('reset: the client sees the connection die', async () => {
    proxy.reset()
    await waitFor(() => seen.errors.length > 0, { message: 'pg emits an error' })
    await expect(client.query('SELECT 1')).rejects.toThrow()
  })
})
