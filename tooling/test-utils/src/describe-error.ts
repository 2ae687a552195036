/** Turns any thrown value into one line; Node's dual-stack connect throws an `AggregateError` with an empty message. */
export function describeError(error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) {
    return [...new Set(error.errors.map(describeError))].join('; ')
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code
    if (error.message !== '') return error.message
    return code ?? error.name
  }
  return String(error)
}
