import * as nodeCrypto from 'node:crypto'

/** SHA-256 of a string, base64url: one call with `crypto.hash` (Node 20.12+), else a Hash object. */
export const sha256: (data: string) => string =
  typeof nodeCrypto.hash === 'function'
    ? (data) => nodeCrypto.hash('sha256', data, 'base64url')
    : (data) => nodeCrypto.createHash('sha256').update(data).digest('base64url')
