import { messageOf } from '../internal/error-text'
import { queueSuffix } from '../internal/redis-keys'
import type { Remote } from '../l2/remote'
import {
  opFields,
  parseConsumers,
  parseEntries,
  parseReadGroup,
  toDeadLetter,
  toRecord,
} from './redis-replies'
import type { StreamEntry } from './redis-replies'
import type { QueueRecord, QueuedOp, StoredDeadLetter, WriteBehindStore } from './store'

/** The consumer group every instance shares; only the leader reads through it. */
const GROUP = 'write-behind'
/** Longest BLOCK of a read: how late the loop notices a lost lease or a stop. */
const MAX_BLOCK_MS = 200
/** Pending entries claimed per XAUTOCLAIM call. */
const CLAIM_COUNT = 1000

/** Where a {@link RedisQueueStore} lives and how it talks. */
export interface RedisStoreConfig {
  /** The cache's connection: every call bounded by its timeout, behind its breaker. */
  readonly remote: Remote
  readonly keyPrefix: string
  /** This instance's consumer name in the group. */
  readonly consumer: string
  /** The cache's Redis timeout, in ms: a blocking read waits at most half of it. */
  readonly timeoutMs: number
  /** Most entries of the dead-letter stream. */
  readonly maxDeadLetters: number
  /** Age (ms) past which a dead letter is dropped; the stream expires this long after its last entry. */
  readonly deadLetterMaxAge: number
}

/**
 * The Redis backend: a stream `<prefix>:stream` read through a consumer group, and a dead-letter
 * stream `<prefix>:dead`. Every key starts with the prefix (one hash tag: one Cluster slot), so the
 * MULTI blocks below are single-slot. Every call goes through the cache's connection (its timeout,
 * its breaker). Reads go through a duplicate connection this store creates and closes, since a
 * BLOCKing read ties its connection up; the user's client is never closed.
 */
export class RedisQueueStore implements WriteBehindStore {
  readonly #remote: Remote
  readonly #stream: string
  readonly #dead: string
  readonly #consumer: string
  readonly #timeoutMs: number
  readonly #maxDeadLetters: number
  readonly #deadLetterMaxAge: number
  #reader: Remote | undefined
  /** `'0'`-based id within our pending entries while re-reading them, `'>'` for new entries. */
  #cursor = '0'

  constructor(config: RedisStoreConfig) {
    this.#remote = config.remote
    this.#stream = `${config.keyPrefix}${queueSuffix.stream}`
    this.#dead = `${config.keyPrefix}${queueSuffix.dead}`
    this.#consumer = config.consumer
    this.#timeoutMs = config.timeoutMs
    this.#maxDeadLetters = config.maxDeadLetters
    this.#deadLetterMaxAge = config.deadLetterMaxAge
  }

  async append(op: QueuedOp): Promise<void> {
    await this.#call(() => this.#remote.client.xadd(this.#stream, '*', ...opFields(op)))
  }

  async begin(): Promise<void> {
    await this.#ensureGroup()
    // A crashed or deposed leader's pending entries become ours; re-read from '0' they come first, in order.
    let cursor = '0-0'
    do {
      const reply = await this.#call(() =>
        this.#remote.client.xautoclaim(
          this.#stream,
          GROUP,
          this.#consumer,
          0,
          cursor,
          'COUNT',
          CLAIM_COUNT,
          'JUSTID',
        ),
      )
      cursor = typeof reply[0] === 'string' ? reply[0] : '0-0'
    } while (cursor !== '0-0')
    await this.#forgetIdleConsumers()
    this.#cursor = '0'
  }

  async take(count: number, waitMs: number): Promise<QueueRecord[]> {
    const reader = this.#readerConnection()
    if (this.#cursor !== '>') {
      const entries = await this.#read(reader, count, this.#cursor, 0)
      const last = entries.at(-1)
      if (last !== undefined) {
        this.#cursor = last.id
        return this.#usable(entries)
      }
      this.#cursor = '>'
    }
    const block =
      waitMs <= 0
        ? 0
        : Math.max(1, Math.min(Math.ceil(waitMs), MAX_BLOCK_MS, Math.floor(this.#timeoutMs / 2)))
    return this.#usable(await this.#read(reader, count, '>', block))
  }

  async ack(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return
    await this.#exec((multi) => multi.xack(this.#stream, GROUP, ...ids).xdel(this.#stream, ...ids))
  }

  async deadLetter(
    ops: readonly QueuedOp[],
    ids: readonly string[],
    reason: string,
    attempts: number,
  ): Promise<void> {
    // Stream ids start with Redis's clock; ours is close enough for an age counted in days.
    const oldest = `${Math.max(0, Date.now() - this.#deadLetterMaxAge)}-0`
    await this.#exec((multi) => {
      for (const op of ops)
        multi.xadd(
          this.#dead,
          'MAXLEN',
          '=',
          this.#maxDeadLetters,
          '*',
          ...opFields(op),
          'reason',
          reason,
          'attempts',
          String(attempts),
        )
      if (ops.length > 0)
        multi.xtrim(this.#dead, 'MINID', '=', oldest).pexpire(this.#dead, this.#deadLetterMaxAge)
      if (ids.length > 0) multi.xack(this.#stream, GROUP, ...ids).xdel(this.#stream, ...ids)
      return multi
    })
  }

  async mark(): Promise<string | undefined> {
    const reply = await this.#call(() => this.#remote.client.xrevrange(this.#stream, '+', '-', 'COUNT', 1))
    return parseEntries(reply)[0]?.id
  }

  async drained(mark: string): Promise<boolean> {
    const reply = await this.#call(() => this.#remote.client.xrange(this.#stream, '-', mark, 'COUNT', 1))
    return parseEntries(reply).length === 0
  }

  wake(): void {
    // A BLOCKing read ends by itself within MAX_BLOCK_MS.
  }

  async deadLetters(limit: number): Promise<StoredDeadLetter[]> {
    const reply = await this.#call(() => this.#remote.client.xrange(this.#dead, '-', '+', 'COUNT', limit))
    return parseEntries(reply).map(toDeadLetter)
  }

  async size(): Promise<number> {
    return this.#call(() => this.#remote.client.xlen(this.#stream))
  }

  async close(): Promise<void> {
    const reader = this.#reader
    this.#reader = undefined
    // Our consumer stays in the group (its pending entries with it); the next leader forgets it once empty.
    await reader?.close()
  }

  async #ensureGroup(): Promise<void> {
    // From id 0: entries queued before the group existed (or after the stream was recreated) are read too.
    // BUSYGROUP (it exists) is the usual answer, not a failure: it must not count toward the breaker.
    await this.#call(() =>
      this.#remote.client.xgroup('CREATE', this.#stream, GROUP, '0', 'MKSTREAM').catch((error: unknown) => {
        if (!/BUSYGROUP/.test(messageOf(error))) throw error
        return 'OK'
      }),
    )
  }

  /** Each leader leaves a consumer behind; one with nothing pending is only clutter. */
  async #forgetIdleConsumers(): Promise<void> {
    const consumers = parseConsumers(
      await this.#call(() => this.#remote.client.xinfo('CONSUMERS', this.#stream, GROUP)),
    )
    for (const { name, pending } of consumers) {
      if (name === this.#consumer || pending > 0) continue
      await this.#call(() => this.#remote.client.xgroup('DELCONSUMER', this.#stream, GROUP, name))
    }
  }

  async #read(reader: Remote, count: number, id: string, block: number): Promise<StreamEntry[]> {
    const args = [
      'GROUP',
      GROUP,
      this.#consumer,
      'COUNT',
      String(count),
      ...(block > 0 ? ['BLOCK', String(block)] : []),
      'STREAMS',
      this.#stream,
      id,
    ]
    const reply = await reader.call(() => reader.client.call('XREADGROUP', ...args), block)
    return parseReadGroup(reply)
  }

  /** Entries deleted while pending have no fields left: they are acknowledged and skipped. */
  async #usable(entries: readonly StreamEntry[]): Promise<QueueRecord[]> {
    const gone = entries.filter((e) => e.fields === null).map((e) => e.id)
    await this.ack(gone)
    const now = Date.now()
    return entries.filter((e) => e.fields !== null).map((e) => toRecord(e, now))
  }

  #readerConnection(): Remote {
    this.#reader ??= this.#remote.duplicate()
    return this.#reader
  }

  #call<R>(run: () => Promise<R>): Promise<R> {
    return this.#remote.call(run)
  }

  async #exec(build: (multi: ReturnType<Remote['client']['multi']>) => unknown): Promise<void> {
    await this.#call(async () => {
      const multi = this.#remote.client.multi()
      build(multi)
      const results = await multi.exec()
      if (results === null) throw new Error('the transaction was aborted')
      for (const [error] of results) if (error !== null) throw error
    })
  }
}
