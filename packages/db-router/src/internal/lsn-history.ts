/**
 * Samples of the primary's WAL position over time — from the health checks and from every position
 * the router captured after a write — so lag in seconds is how long ago the primary was where the
 * replica is now, and the time a scope's position was reached is known. Positions only move forward;
 * samples closer together than the resolution replace each other, so the memory is bounded whatever
 * the write rate.
 */
export class LsnHistory {
  #samples: { at: number; lsn: bigint }[] = []
  readonly #max: number
  readonly #resolutionMs: number

  /** Keeps up to `max` samples, at most one per `resolutionMs` (the newest of each slot). */
  constructor(max: number, resolutionMs = 0) {
    this.#max = Math.max(2, max)
    this.#resolutionMs = resolutionMs
  }

  /** Records the primary's position `lsn` seen at time `at` (ms); a position not past the last is dropped. */
  push(at: number, lsn: bigint): void {
    const last = this.#samples.at(-1)
    if (last !== undefined) {
      if (lsn <= last.lsn) return
      // A later position seen "earlier" (clocks of two callers): it was reached by the later time.
      if (at < last.at) at = last.at
      const previous = this.#samples.at(-2)
      if (previous !== undefined && at - previous.at < this.#resolutionMs) {
        this.#samples[this.#samples.length - 1] = { at, lsn }
        return
      }
    }
    this.#samples.push({ at, lsn })
    // Dropped in batches: one copy per `max` pushes rather than a shift per push.
    if (this.#samples.length > 2 * this.#max) this.#samples = this.#samples.slice(-this.#max)
  }

  /** The newest position recorded, 0n before any. */
  get latest(): bigint {
    return this.#samples.at(-1)?.lsn ?? 0n
  }

  /**
   * Seconds since the earliest sample the replica has not replayed, 0 if it has replayed the
   * latest. Never based on commit timestamps, so an idle primary does not look like lag.
   */
  secondsBehind(replay: bigint, now: number): number {
    const firstMissing = this.#first(replay + 1n)
    return firstMissing === undefined ? 0 : Math.max(0, now - firstMissing.at) / 1000
  }

  /** When the primary was first seen at or past `lsn` (ms; it got there at or before), undefined if never. */
  reachedAt(lsn: bigint): number | undefined {
    return this.#first(lsn)?.at
  }

  /** The earliest sample at or past `lsn` (binary search: samples are sorted by position and time). */
  #first(lsn: bigint): { at: number; lsn: bigint } | undefined {
    const s = this.#samples
    let lo = 0
    let hi = s.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if ((s[mid]?.lsn ?? 0n) >= lsn) hi = mid
      else lo = mid + 1
    }
    return s[lo]
  }
}
