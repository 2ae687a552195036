/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Anything thrown, as an Error (for `onError`). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}
