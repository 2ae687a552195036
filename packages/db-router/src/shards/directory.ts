import type { DbRouter } from '../types'
import { DbRouterArgumentError } from '../errors'
import { bucketOf } from './hash'
import type { ShardKey } from './hash'

/** One bucket's row in the directory. */
export interface DirectoryEntry {
  readonly shard: string
  /** Bumped by every move of the bucket; the owning shard's ownership row carries the same. */
  readonly epoch: bigint
  /** Set while a move to that shard is under way (or was interrupted). */
  readonly movingTo: string | undefined
  /** Set after a switch until the old shard's copy is deleted. */
  readonly cleanupOn: string | undefined
}

/** The SQL names of a directory, from its prefix (`scalekit_shard` by default). */
export interface DirectoryNames {
  /** On the home shard: bucket → shard, epoch, moving_to, cleanup_on. */
  readonly directory: string
  /** On the home shard: one row, the directory's epoch (bumped by every change). */
  readonly epoch: string
  /** On every shard: the buckets it owns, with their epoch. */
  readonly owned: string
}

export function directoryNames(prefix: string): DirectoryNames {
  return { directory: `${prefix}_directory`, epoch: `${prefix}_directory_epoch`, owned: `${prefix}_buckets` }
}

interface Row {
  bucket: number
  shard: string
  epoch: string
  moving_to: string | null
  cleanup_on: string | null
}

/**
 * The bucket → shard directory, read from the home shard and cached in this process. It is
 * re-read when its epoch changed (checked every `refresh`), and at once when a write finds its
 * shard no longer owns the bucket (the fence), so routers in other processes follow a move.
 */
export class Directory {
  readonly names: DirectoryNames
  readonly buckets: number
  /** The shard whose primary holds the directory. */
  readonly home: string
  readonly #home: DbRouter
  readonly #refreshMs: number
  #entries: DirectoryEntry[] | undefined
  #epoch = -1n
  #checkedAt = 0
  #loading: Promise<void> | undefined

  constructor(homeName: string, home: DbRouter, buckets: number, prefix: string, refreshMs: number) {
    this.home = homeName
    this.#home = home
    this.buckets = buckets
    this.names = directoryNames(prefix)
    this.#refreshMs = refreshMs
  }

  get loaded(): boolean {
    return this.#entries !== undefined
  }

  /** The directory's epoch as last read. */
  get epoch(): bigint {
    return this.#epoch
  }

  bucketOf(key: ShardKey): number {
    return bucketOf(key, this.buckets)
  }

  /** True when the epoch was last checked more than `refresh` ago. */
  get stale(): boolean {
    return performance.now() - this.#checkedAt > this.#refreshMs
  }

  /** The cached entry of `bucket` (callers that route re-check a {@link stale} cache first). */
  entry(bucket: number): DirectoryEntry {
    const entries = this.#entries
    if (entries === undefined)
      throw new DbRouterArgumentError('the shard directory is not loaded yet: await db.ready() first')
    return entries[bucket] as DirectoryEntry
  }

  /** Re-reads the epoch, and the whole directory if it changed (one read at a time). */
  refresh(force = false): Promise<void> {
    this.#loading ??= this.#load(force).finally(() => {
      this.#loading = undefined
    })
    return this.#loading
  }

  async #load(force: boolean): Promise<void> {
    this.#checkedAt = performance.now()
    const { rows: meta } = await this.#home.query<{ epoch: string }>(
      `SELECT epoch::text AS epoch FROM ${this.names.epoch}`,
      [],
      { role: 'primary' },
    )
    const epoch = BigInt(meta[0]?.epoch ?? '0')
    if (!force && epoch === this.#epoch && this.#entries !== undefined) return
    const { rows } = await this.#home.query<Row>(
      `SELECT bucket, shard, epoch::text AS epoch, moving_to, cleanup_on FROM ${this.names.directory} ORDER BY bucket`,
      [],
      { role: 'primary' },
    )
    if (rows.length !== this.buckets)
      throw new DbRouterArgumentError(
        `the shard directory ${this.names.directory} holds ${rows.length} buckets, the map says ${this.buckets}: run scalekit-db init-directory`,
      )
    this.#entries = rows.map((r) => ({
      shard: r.shard,
      epoch: BigInt(r.epoch),
      movingTo: r.moving_to ?? undefined,
      cleanupOn: r.cleanup_on ?? undefined,
    }))
    this.#epoch = epoch
  }
}
