import type { Pool, PoolConfig } from 'pg'
import { isPool } from '../nodes/pools'
import { DbRouterOptionsError } from '../errors'
import type { ReplicaInput } from '../options'

/** A replica input split into its pool source and routing attributes, validated. */
export function sourceOfReplica(
  input: ReplicaInput,
  index: number,
): { source: string | Pool | PoolConfig; weight: number; name: string } {
  const where = `replicas[${index}]`
  if (typeof input === 'string') {
    if (input === '') throw new DbRouterOptionsError(`${where} is an empty URL`)
    return { source: input, weight: 1, name: `replica-${index}` }
  }
  if (isPool(input)) return { source: input, weight: 1, name: `replica-${index}` }
  if (typeof input !== 'object' || (input as unknown) === null)
    throw new DbRouterOptionsError(`${where} must be a URL, a pg.Pool, a PoolConfig or { source }`)
  const { weight = 1, name = `replica-${index}` } = input
  if (!(typeof weight === 'number' && weight > 0 && Number.isFinite(weight)))
    throw new DbRouterOptionsError(`${where}.weight must be a positive number`)
  if (typeof name !== 'string' || !/^[\w.:-]{1,64}$/.test(name))
    throw new DbRouterOptionsError(`${where}.name must be 1-64 characters of [A-Za-z0-9_.:-]`)
  if ('source' in input) {
    const source = input.source
    if (typeof source !== 'string' && typeof source !== 'object')
      throw new DbRouterOptionsError(`${where}.source must be a URL, a pg.Pool or a PoolConfig`)
    return { source, weight, name }
  }
  const { weight: _w, name: _n, ...config } = input
  return { source: config, weight, name }
}
