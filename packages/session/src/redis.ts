/**
 * The members of an ioredis 5 or 6 client (`Redis` or `Cluster`) this package calls, declared
 * structurally so an app's client of either major version fits and the package imports no ioredis
 * type. Every call goes through a Lua script or one plain command, bounded by the caller's timeout.
 */
export interface RedisClient {
  /** ioredis' connection state: `ready` when commands flow. */
  readonly status: string
  evalsha(sha: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  /** A new connection with the same options: what the package subscribes on (and closes). */
  duplicate(): RedisSubscriber
}

/** The members of a duplicated client that pub/sub uses. */
export interface RedisSubscriber {
  readonly status: string
  subscribe(...channels: string[]): Promise<unknown>
  on(event: 'message', listener: (channel: string, message: string) => void): unknown
  on(event: 'ready' | 'close' | 'end', listener: () => void): unknown
  on(event: 'error', listener: (error: Error) => void): unknown
  quit(): Promise<unknown>
  disconnect(): void
}
