/** Samples of the primary's WAL position over time: lag in seconds = how long ago the primary was where the replica is now. */
export class LsnHistory {
  readonly #samples: { at: number; lsn: bigint }[] = []
  readonly #max: number

  constructor(max: number) {
    this.#max = max
  }

  /** Records the primary's position `lsn` seen at time `at` (ms). */
  push(at: number, lsn: bigint): void {
    this.#samples.push({ at, lsn })
    if (this.#samples.length > this.#max) this.#samples.shift()
  }

  /**
   * Seconds since the earliest sample the replica has not replayed, 0 if it has replayed the
   * latest. Never based on commit timestamps, so an idle primary does not look like lag.
   */
  secondsBehind(replay: bigint, now: number): number {
    const firstMissing = this.#samples.find((s) => s.lsn > replay)
    return firstMissing === undefined ? 0 : (now - firstMissing.at) / 1000
  }
}
