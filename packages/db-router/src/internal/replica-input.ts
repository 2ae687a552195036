import { describeValue } from '@scalekit/internal'
import type { Pool, PoolConfig } from 'pg'
import { isPool } from '../nodes/pools'
import { DbRouterOptionsError } from '../errors'
import type { ReplicaInput } from '../options'
import { checkNodeSource } from './node-source'

/** A replica input split into its pool source and routing attributes, validated. */
export function sourceOfReplica(
  input: ReplicaInput,
  index: number,
): { source: string | Pool | PoolConfig; weight: number; name: string } {
  const where = `replicas[${index}]`
  if (typeof input === 'string' || isPool(input)) {
    checkNodeSource(where, input)
    return { source: input, weight: 1, name: `replica-${index}` }
  }
  const given: unknown = input
  if (typeof given !== 'object' || given === null || 'query' in given) checkNodeSource(where, given)
  const { weight = 1, name = `replica-${index}` } = input
  if (!(typeof weight === 'number' && weight > 0 && Number.isFinite(weight)))
    throw new DbRouterOptionsError(`${where}.weight must be a positive number, got ${describeValue(weight)}`)
  if (typeof name !== 'string' || !/^[\w.:-]{1,64}$/.test(name))
    throw new DbRouterOptionsError(
      `${where}.name must be 1-64 characters of [A-Za-z0-9_.:-], got ${describeValue(name)}`,
    )
  if ('source' in input) {
    const extra = Object.keys(input).filter((k) => k !== 'source' && k !== 'weight' && k !== 'name')
    if (extra.length > 0)
      throw new DbRouterOptionsError(
        `${where}.${extra[0] ?? ''} is not an option of { source, weight, name } (pool settings go in the source)`,
      )
    checkNodeSource(`${where}.source`, input.source)
    return { source: input.source, weight, name }
  }
  const { weight: _w, name: _n, ...config } = input
  checkNodeSource(where, config)
  return { source: config, weight, name }
}
