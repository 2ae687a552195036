/** The error's message, for events and dead-letter headers. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message
  if (typeof error === 'string') return error
  try {
    const text = JSON.stringify(error) as string | undefined
    return text ?? 'undefined'
  } catch {
    return 'unprintable error'
  }
}

/** The error's stable code (ours, Node's, or AMQP's reply code), else its class name, else `unknown`. */
export function errorCode(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' || typeof code === 'number') return String(code)
    if (error instanceof Error) return error.name
  }
  return 'unknown'
}

/** `{ code, message }` of an error for a connection event; empty for none. */
export function describeError(error: unknown): { code?: string; message?: string } {
  if (error === undefined || error === null) return {}
  return { code: errorCode(error), message: errorMessage(error) }
}
