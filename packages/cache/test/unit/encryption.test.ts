import { Buffer } from 'node:buffer'
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { createEncryption, type Encryption, type EncryptionKey } from '../../src/encryption'
import { CacheDecodeError, CacheEncodeError, CacheOptionsError } from '../../src/errors'

const k1: EncryptionKey = { id: 'k1', key: randomBytes(32) }
const k2: EncryptionKey = { id: 'k2', key: randomBytes(32).toString('base64') }
const AAD = 'ns:user:42'

/** Rewrites one byte range of the decoded body, keeping the text well-formed. */
function tamper(text: string, from: number, to: number): string {
  const [version, id, body] = text.split('.') as [string, string, string]
  const bytes = Buffer.from(body, 'base64url')
  for (let i = from; i < Math.min(to, bytes.length); i++) bytes[i] = (bytes[i] ?? 0) ^ 0x01
  return `${version}.${id}.${bytes.toString('base64url')}`
}

function expectDecodeError(encryption: Encryption, text: string, aad = AAD): CacheDecodeError {
  try {
    encryption.decrypt(text, aad)
  } catch (error) {
    expect(error).toBeInstanceOf(CacheDecodeError)
    expect((error as CacheDecodeError).code).toBe('ERR_CACHE_DECODE')
    return error as CacheDecodeError
  }
  throw new Error('decrypt did not throw')
}

describe('createEncryption', () => {
  const encryption = createEncryption({ keys: [k1] })

  it('round-trips any well-formed string, empty included', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string(), (plain, aad) => {
        expect(encryption.decrypt(encryption.encrypt(plain, aad), aad)).toBe(plain)
      }),
    )
    expect(encryption.decrypt(encryption.encrypt('', AAD), AAD)).toBe('')
    const large = 'x'.repeat(1_000_000)
    expect(encryption.decrypt(encryption.encrypt(large, AAD), AAD)).toBe(large)
  })

  it('writes v1.<keyId>.<base64url> with a fresh IV each time', () => {
    const first = encryption.encrypt('same', AAD)
    const second = encryption.encrypt('same', AAD)
    expect(first).toMatch(/^v1\.k1\.[A-Za-z0-9_-]+$/)
    expect(first).not.toBe(second)
    expect(Buffer.from(first.split('.')[2]!, 'base64url').subarray(0, 12)).not.toEqual(
      Buffer.from(second.split('.')[2]!, 'base64url').subarray(0, 12),
    )
    expect(Buffer.from(first.split('.')[2]!, 'base64url')).toHaveLength(12 + 16 + 4)
  })

  it('rejects a lone surrogate rather than storing U+FFFD', () => {
    expect(() => encryption.encrypt('a\ud800', AAD)).toThrow(CacheEncodeError)
  })

  it('rotates keys: keys[0] encrypts, every key decrypts, a removed key no longer does', () => {
    const old = encryption.encrypt('old value', AAD)
    const rotated = createEncryption({ keys: [k2, k1] })
    expect(rotated.decrypt(old, AAD)).toBe('old value')
    const fresh = rotated.encrypt('new value', AAD)
    expect(fresh.startsWith('v1.k2.')).toBe(true)
    expect(rotated.decrypt(fresh, AAD)).toBe('new value')
    expect(expectDecodeError(encryption, fresh).message).toBe('Cannot decrypt: unknown key id "k2"')

    const retired = createEncryption({ keys: [k2] })
    expect(retired.decrypt(fresh, AAD)).toBe('new value')
    expect(expectDecodeError(retired, old).message).toBe('Cannot decrypt: unknown key id "k1"')
  })

  it('accepts the same key as bytes, hex, base64 and base64url', () => {
    const bytes = randomBytes(32)
    const texts = [
      bytes.toString('hex'),
      bytes.toString('hex').toUpperCase(),
      bytes.toString('base64'),
      bytes.toString('base64').replace(/=$/, ''),
      bytes.toString('base64url'),
    ]
    const encrypted = createEncryption({ keys: [{ id: 'a', key: new Uint8Array(bytes) }] }).encrypt('v', AAD)
    for (const key of texts)
      expect(createEncryption({ keys: [{ id: 'a', key }] }).decrypt(encrypted, AAD)).toBe('v')
  })

  describe('rejects, with CacheDecodeError, a text that', () => {
    const text = encryption.encrypt('{"secret":true}', AAD)
    const other = createEncryption({ keys: [{ id: 'k1', key: randomBytes(32) }] })

    it.each([
      ['has a tampered IV', tamper(text, 0, 12)],
      ['has a tampered tag', tamper(text, 12, 28)],
      ['has a tampered ciphertext', tamper(text, 28, 29)],
      ['has its last ciphertext byte tampered', tamper(text, 28 + 14, 28 + 15)],
      ['is truncated by one character', text.slice(0, -1)],
      [
        'is truncated by one byte',
        (() => {
          const [v, id, body] = text.split('.') as [string, string, string]
          return `${v}.${id}.${Buffer.from(body, 'base64url').subarray(0, -1).toString('base64url')}`
        })(),
      ],
      ['is truncated below IV and tag', text.slice(0, 'v1.k1.'.length + 20)],
      ['has an empty body', 'v1.k1.'],
      ['has a changed key id', text.replace('v1.k1.', 'v1.k9.')],
      ['has a malformed key id', text.replace('v1.k1.', 'v1.!!.')],
      ['has another version', text.replace(/^v1/, 'v2')],
      ['has an extra part', `${text}.x`],
      ['is not encrypted at all', '{"plain":"json"}'],
      ['is empty', ''],
      ['has invalid base64url characters', `${text.slice(0, 20)}!*${text.slice(20)}`],
    ])('%s', (_name, bad) => {
      expectDecodeError(encryption, bad)
    })

    it('was encrypted for another cache key (aad)', () => {
      const error = expectDecodeError(encryption, text, 'ns:user:43')
      expect(error.cause).toBeInstanceOf(Error)
      expectDecodeError(encryption, text, '')
    })

    it('was encrypted by another key with the same id', () => {
      expectDecodeError(other, text)
    })

    it('has any single byte flipped', () => {
      const length = Buffer.from(text.split('.')[2]!, 'base64url').length
      fc.assert(
        fc.property(fc.integer({ min: 0, max: length - 1 }), (i) => {
          expectDecodeError(encryption, tamper(text, i, i + 1))
        }),
      )
    })
  })

  describe('rejects bad options with CacheOptionsError', () => {
    const bytes = randomBytes(32)
    it.each([
      ['no keys', []],
      ['an empty id', [{ id: '', key: bytes }]],
      ['an id with a dot', [{ id: 'k.1', key: bytes }]],
      ['an id longer than 32', [{ id: 'k'.repeat(33), key: bytes }]],
      [
        'a duplicated id',
        [
          { id: 'a', key: bytes },
          { id: 'a', key: randomBytes(32) },
        ],
      ],
      ['a 16-byte key', [{ id: 'a', key: randomBytes(16) }]],
      ['a 33-byte key', [{ id: 'a', key: randomBytes(33) }]],
      ['a 32-char passphrase', [{ id: 'a', key: 'correct-horse-battery-staple-32!' }]],
      ['a passphrase as bytes', [{ id: 'a', key: Buffer.from('correct-horse-battery-staple-32!') }]],
      ['an all-zero key', [{ id: 'a', key: new Uint8Array(32) }]],
      ['an all-zero hex key', [{ id: 'a', key: '0'.repeat(64) }]],
      ['hex of 31 bytes', [{ id: 'a', key: randomBytes(31).toString('hex') }]],
      ['base64 of 24 bytes', [{ id: 'a', key: randomBytes(24).toString('base64') }]],
      ['mixed base64 alphabets', [{ id: 'a', key: `+_${bytes.toString('base64url').slice(2)}` }]],
      [
        'a non-canonical base64 tail',
        [
          {
            id: 'a',
            key: `${bytes.toString('base64url').slice(0, 42)}${bytes.toString('base64url').endsWith('B') ? 'C' : 'B'}`,
          },
        ],
      ],
    ])('%s', (_name, keys) => {
      expect(() => createEncryption({ keys })).toThrow(CacheOptionsError)
    })
  })
})
