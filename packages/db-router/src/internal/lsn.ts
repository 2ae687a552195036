/**
 * A WAL position (`pg_lsn`, printed as `XXXXXXXX/XXXXXXXX`) as a bigint, so positions compare and
 * subtract exactly: a replica has a write iff its replay LSN >= the write's commit LSN.
 */
export function parseLsn(text: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(text)
  if (match === null) throw new TypeError(`not a pg_lsn: ${text}`)
  return (BigInt(`0x${match[1] ?? '0'}`) << 32n) | BigInt(`0x${match[2] ?? '0'}`)
}

/** The `pg_lsn` text of a position. */
export function formatLsn(lsn: bigint): string {
  return `${(lsn >> 32n).toString(16).toUpperCase()}/${(lsn & 0xffffffffn).toString(16).toUpperCase()}`
}

/** XLOG page header sizes (MAXALIGNed): a short one on every WAL page, a long one on a segment's first page. */
const SHORT_PAGE_HEADER = 24n
const LONG_PAGE_HEADER = 40n

/**
 * `pg_current_wal_insert_lsn()` skips the page header when the last record ended exactly at a page
 * boundary (as after a segment switch), while a replica's replay LSN stops at the boundary: it would
 * never "reach" such a position until more WAL is written. Maps a header-end position back to the
 * boundary, which is where the last record really ended (no record ends inside a page header).
 */
export function settleInsertLsn(lsn: bigint, segmentBytes: bigint, blockBytes: bigint): bigint {
  if (segmentBytes > 0n && lsn % segmentBytes === LONG_PAGE_HEADER) return lsn - LONG_PAGE_HEADER
  if (blockBytes > 0n && lsn % blockBytes === SHORT_PAGE_HEADER) return lsn - SHORT_PAGE_HEADER
  return lsn
}
