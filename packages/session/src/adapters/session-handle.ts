import { SessionArgumentError } from '../errors'
import type { SessionRecord, Sessions } from '../sessions/sessions'
import type { JsonValue } from '../tokens/types'

/**
 * The request's server session, as the adapters hand it out (`req.serverSession`,
 * `request.serverSession`, `currentSession()`). Every change is written to the store at once and
 * field by field, so concurrent requests never undo each other's changes; the first change creates
 * the session and sets its cookie.
 */
export interface SessionHandle {
  /** True when the request carried a live session (or a change created one). */
  readonly exists: boolean
  readonly userId: string | undefined
  /** A hash of the session id, as `sessions.list()` shows it (to mark "this device"). */
  readonly handle: string | undefined
  /** The data as loaded, with this request's own changes applied. */
  readonly data: Readonly<Record<string, JsonValue>>
  get(name: string): JsonValue | undefined
  /** Sets (or with `undefined` removes) fields; creates the session if there is none. */
  set(changes: Readonly<Record<string, JsonValue | undefined>>): Promise<void>
  /** A new session id with the same data (call on login and privilege change), optionally for `userId`. */
  regenerate(options?: { readonly userId?: string }): Promise<void>
  /** Ends the session and clears the cookie. */
  destroy(): Promise<void>
}

/** What the handle needs from its adapter: how to write the cookie. */
export type CookieWriter = (id: string | undefined, expiresAt: number) => void

/** The one implementation behind both adapters. */
export class RequestSession implements SessionHandle {
  readonly #sessions: Sessions
  readonly #write: CookieWriter
  #record: SessionRecord | undefined
  #data: Record<string, JsonValue>

  constructor(sessions: Sessions, record: SessionRecord | undefined, write: CookieWriter) {
    this.#sessions = sessions
    this.#record = record
    this.#write = write
    this.#data = { ...(record?.data ?? {}) }
  }

  get exists(): boolean {
    return this.#record !== undefined
  }

  get userId(): string | undefined {
    return this.#record?.userId
  }

  get handle(): string | undefined {
    return this.#record === undefined ? undefined : this.#sessions.handleOf(this.#record.id)
  }

  get data(): Readonly<Record<string, JsonValue>> {
    return this.#data
  }

  get(name: string): JsonValue | undefined {
    return this.#data[name]
  }

  async set(changes: Readonly<Record<string, JsonValue | undefined>>): Promise<void> {
    const record = this.#record
    if (record !== undefined && (await this.#sessions.update(record, changes))) {
      this.#apply(changes)
      return
    }
    // No session (or it ended meanwhile): a new one, with a new id.
    const data: Record<string, JsonValue> = {}
    for (const [name, value] of Object.entries(changes)) if (value !== undefined) data[name] = value
    this.#record = await this.#sessions.create({ data })
    this.#data = { ...data }
    this.#write(this.#record.id, this.#record.expiresAt)
  }

  async regenerate(options: { userId?: string } = {}): Promise<void> {
    const given: unknown = options
    if (typeof given !== 'object' || given === null)
      throw new SessionArgumentError('regenerate() takes { userId? }')
    const next =
      (this.#record === undefined ? undefined : await this.#sessions.regenerate(this.#record.id, options)) ??
      (await this.#sessions.create({ ...options, data: this.#data }))
    this.#record = next
    this.#data = { ...next.data }
    this.#write(next.id, next.expiresAt)
  }

  async destroy(): Promise<void> {
    if (this.#record !== undefined) await this.#sessions.destroy(this.#record.id)
    this.#record = undefined
    this.#data = {}
    this.#write(undefined, 0)
  }

  #apply(changes: Readonly<Record<string, JsonValue | undefined>>): void {
    for (const [name, value] of Object.entries(changes)) {
      if (value === undefined)
        delete this.#data[name] // eslint-disable-line @typescript-eslint/no-dynamic-delete
      else this.#data[name] = value
    }
  }
}
