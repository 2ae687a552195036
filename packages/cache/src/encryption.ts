import { Buffer } from 'node:buffer'
import { createCipheriv, createDecipheriv, createSecretKey, randomBytes, type KeyObject } from 'node:crypto'
import { CacheDecodeError, CacheEncodeError, CacheOptionsError } from './errors'

/** One key of the keyring. Its id is written beside every value, so any key still listed decrypts it. */
export interface EncryptionKey {
  /** `[A-Za-z0-9_-]{1,32}`, unique in the keyring. Stored in clear with every value: no secrets. */
  id: string
  /**
   * Exactly 32 random bytes: a `Uint8Array`, or their text as hex (64 chars), base64 (44 chars with
   * `=` or 43 without) or base64url (43 chars), e.g. from `openssl rand -base64 32`. Any other text,
   * a passphrase included, is rejected: it is not 32 random bytes. Bytes that are all printable
   * ASCII (a passphrase passed as bytes) or have fewer than 16 distinct values are rejected too.
   */
  key: string | Uint8Array
}

/** Options of `createEncryption`. */
export interface EncryptionOptions {
  /** The keyring: `keys[0]` encrypts, every key decrypts. Rotate by prepending a key, drop the old one once its values expired. */
  keys: readonly EncryptionKey[]
}

/** Encrypts values at rest (AES-256-GCM), bound to their cache key. */
export interface Encryption {
  /**
   * Encrypts with `keys[0]` and a random IV into `v1.<keyId>.<base64url(iv|tag|ciphertext)>`.
   * `aad` (the cache key) is authenticated, not stored. Throws `CacheEncodeError` if `plain` holds a
   * lone surrogate (UTF-8 cannot carry it).
   */
  encrypt(plain: string, aad: string): string
  /** Throws `CacheDecodeError` unless `text` came from `encrypt` with the same `aad` and a key still listed. */
  decrypt(text: string, aad: string): string
}

interface Key {
  readonly secret: KeyObject
  /** `v1.<id>.`: starts every output, and is authenticated with the aad. */
  readonly prefix: string
}

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16
const ID = /^[A-Za-z0-9_-]{1,32}$/
const HEX = /^[0-9a-fA-F]{64}$/
const BASE64 = /^(?:[A-Za-z0-9+/]{43}=?|[A-Za-z0-9_-]{43})$/
const LONE_SURROGATE = /\p{Cs}/u

function keyBytes(id: string, key: string | Uint8Array): Uint8Array {
  const fail = (why: string): CacheOptionsError => new CacheOptionsError(`Encryption key "${id}" ${why}`)
  let bytes: Uint8Array
  if (typeof key !== 'string') bytes = key
  else if (HEX.test(key)) bytes = Buffer.from(key, 'hex')
  else if (
    BASE64.test(key) &&
    Buffer.from(key, 'base64').toString('base64url') ===
      key.replace(/=$/, '').replace(/\+/g, '-').replace(/\//g, '_')
  ) {
    bytes = Buffer.from(key, 'base64')
  } else
    throw fail(
      'must be 32 random bytes, as a Uint8Array or as 64 hex, 43-44 base64 or 43 base64url characters',
    )
  if (bytes.length !== 32) throw fail(`must be exactly 32 bytes, got ${bytes.length}`)
  if (bytes.every((byte) => byte >= 0x20 && byte <= 0x7e))
    throw fail('looks like text (a passphrase?), not 32 random bytes')
  if (new Set(bytes).size < 16) throw fail('has too few distinct bytes to be random')
  return bytes
}

function resolveKeys(options: EncryptionOptions): Map<string, Key> {
  const keys = new Map<string, Key>()
  for (const { id, key } of options.keys) {
    if (typeof id !== 'string' || !ID.test(id))
      throw new CacheOptionsError(`Encryption key id ${JSON.stringify(id)} must match ${String(ID)}`)
    if (keys.has(id)) throw new CacheOptionsError(`Encryption key id "${id}" is listed twice`)
    keys.set(id, { secret: createSecretKey(keyBytes(id, key)), prefix: `${VERSION}.${id}.` })
  }
  return keys
}

/**
 * Encrypts values at rest in Redis with AES-256-GCM (node:crypto), with key rotation. Validates
 * the keyring once, here, throwing `CacheOptionsError`; key objects are built once too.
 */
export function createEncryption(options: EncryptionOptions): Encryption {
  const keys = resolveKeys(options)
  const [primary] = keys.values()
  if (primary === undefined) throw new CacheOptionsError('Encryption needs at least one key')

  return {
    encrypt(plain: string, aad: string): string {
      if (LONE_SURROGATE.test(plain))
        throw new CacheEncodeError('Cannot encrypt a string holding a lone surrogate')
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', primary.secret, iv, { authTagLength: TAG_BYTES })
      cipher.setAAD(Buffer.from(primary.prefix + aad, 'utf8'))
      const head = cipher.update(plain, 'utf8')
      const tail = cipher.final()
      return primary.prefix + Buffer.concat([iv, cipher.getAuthTag(), head, tail]).toString('base64url')
    },

    decrypt(text: string, aad: string): string {
      const [version, id = '', body, ...rest] = text.split('.')
      if (version !== VERSION || body === undefined || rest.length > 0) {
        throw new CacheDecodeError('Cannot decrypt: not a value written by this encryption')
      }
      const key = keys.get(id)
      if (key === undefined) {
        throw new CacheDecodeError(
          `Cannot decrypt: unknown key id ${ID.test(id) ? `"${id}"` : '(malformed)'}`,
        )
      }
      const bytes = Buffer.from(body, 'base64url')
      // Buffer skips characters outside the alphabet; a length that disagrees with the text means some were.
      if (Math.ceil((bytes.length * 4) / 3) !== body.length)
        throw new CacheDecodeError('Cannot decrypt: the value is not base64url')
      if (bytes.length < IV_BYTES + TAG_BYTES)
        throw new CacheDecodeError('Cannot decrypt: the value is truncated')
      try {
        const decipher = createDecipheriv('aes-256-gcm', key.secret, bytes.subarray(0, IV_BYTES), {
          authTagLength: TAG_BYTES,
        })
        decipher.setAAD(Buffer.from(key.prefix + aad, 'utf8'))
        decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES))
        const head = decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES))
        return Buffer.concat([head, decipher.final()]).toString('utf8')
      } catch (error) {
        throw new CacheDecodeError('Cannot decrypt: the value was altered or belongs to another cache key', {
          cause: error,
        })
      }
    },
  }
}
