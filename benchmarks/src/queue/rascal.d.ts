/** The little of rascal 21 (which ships no types) these benchmarks use. */
declare module 'rascal' {
  import type { EventEmitter } from 'node:events'

  export type RascalPublication = EventEmitter
  export interface RascalSubscription extends EventEmitter {
    cancel(): Promise<void>
  }
  export class BrokerAsPromised extends EventEmitter {
    static create(config: unknown): Promise<BrokerAsPromised>
    publish(name: string, message: unknown, overrides?: unknown): Promise<RascalPublication>
    subscribe(name: string, overrides?: unknown): Promise<RascalSubscription>
    shutdown(): Promise<void>
  }
  export function withDefaultConfig(config: unknown): unknown
  const rascal: { BrokerAsPromised: typeof BrokerAsPromised; withDefaultConfig: typeof withDefaultConfig }
  export default rascal
}
