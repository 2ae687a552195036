import type { Codec } from '../codec'
import type { Encryption } from '../encryption'
import { CacheDecodeError } from '../errors'
import type { QueuedOp } from './store'

/**
 * How a queue's operations and dead-letter reasons travel through its store: as the codec's text,
 * or, when the cache has `encryption`, encrypted (AES-256-GCM) and bound to the queue, the key and
 * the operation. With encryption a delete carries a seal too, so an operation injected into the
 * stream without the key (a set or a delete) is refused and dead-lettered, never written.
 */
export class OpSealing<T> {
  readonly #codec: Codec
  readonly #encryption: Encryption | undefined
  readonly #queue: string

  /** `queue` (the queue's key prefix) goes into the associated data: a sealed value opens in its own queue only. */
  constructor(codec: Codec, encryption: Encryption | undefined, queue: string) {
    this.#codec = codec
    this.#encryption = encryption
    this.#queue = queue
  }

  /** The operation as stored; throws `CacheEncodeError` when the value cannot be encoded. */
  seal(key: string, deleted: boolean, value: T | undefined): QueuedOp {
    const encryption = this.#encryption
    if (deleted) return { key, deleted, encoded: encryption?.encrypt('', this.#aad('del', key)) }
    const text = this.#codec.encode(value)
    return {
      key,
      deleted,
      encoded: encryption === undefined ? text : encryption.encrypt(text, this.#aad('set', key)),
    }
  }

  /** The value of a stored operation (undefined for a delete); throws `CacheDecodeError` when it does not open. */
  open(op: QueuedOp): T | undefined {
    const encryption = this.#encryption
    if (op.deleted) {
      if (encryption !== undefined) encryption.decrypt(op.encoded ?? '', this.#aad('del', op.key))
      return undefined
    }
    if (op.encoded === undefined) throw new CacheDecodeError('write-behind: a set without a value')
    const text =
      encryption === undefined ? op.encoded : encryption.decrypt(op.encoded, this.#aad('set', op.key))
    return this.#codec.decode(text) as T
  }

  /** A dead letter's reason as stored: the store's error message may quote the value. */
  sealReason(reason: string): string {
    if (this.#encryption === undefined) return reason
    // UTF-8 cannot carry a lone surrogate, which an error message may hold.
    return this.#encryption.encrypt(reason.replace(/\p{Cs}/gu, '\ufffd'), this.#aad('reason', ''))
  }

  openReason(stored: string): string {
    if (this.#encryption === undefined) return stored
    try {
      return this.#encryption.decrypt(stored, this.#aad('reason', ''))
    } catch {
      return '(the reason could not be decrypted)'
    }
  }

  #aad(field: string, key: string): string {
    return `wb|${this.#queue}|${field}|${key}`
  }
}
