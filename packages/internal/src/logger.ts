/**
 * Where a package reports trouble: pino's shape (object first, then the message), so a pino or
 * bunyan logger fits as it is, and so does `console`. Only `warn` is required.
 */
export interface Logger {
  warn(obj: object, msg?: string): void
  error?(obj: object, msg?: string): void
  info?(obj: object, msg?: string): void
  debug?(obj: object, msg?: string): void
}

/** Reports through Node's own warning channel (`process.emitWarning`): printed once per warning, silenced by `--no-warnings`, seen by `process.on('warning')`. */
function processLogger(pkg: string): Logger {
  return {
    warn(obj, msg) {
      const code = (obj as { code?: unknown }).code
      process.emitWarning(msg ?? 'warning', {
        type: `ScalekitWarning(${pkg})`,
        ...(typeof code === 'string' ? { code } : {}),
      })
    },
  }
}

/** Logs each episode of trouble once, then at most once per interval while it lasts. */
export interface Warner {
  /** Logs `msg` with `fields` for `episode` now, or counts it if it was logged less than an interval ago. */
  warn(episode: string, fields: Readonly<Record<string, unknown>>, msg: string): void
  /** Ends `episode`: the next trouble of its kind logs at once (and the end is logged at `info`, if the logger has it). */
  recover(episode: string, msg?: string): void
}

/**
 * The logger seam of package `pkg`: warnings go to `logger` (default: Node's process warnings), one per
 * episode per `intervalMs`, with the number suppressed meanwhile. Fields carry codes and names,
 * never keys, values, SQL parameters or tokens.
 */
export function createWarner(pkg: string, logger: Logger | undefined, intervalMs = 60_000): Warner {
  const target = logger ?? processLogger(pkg)
  const episodes = new Map<string, { last: number; suppressed: number }>()
  return {
    warn(episode, fields, msg) {
      const now = Date.now()
      const seen = episodes.get(episode)
      if (seen !== undefined && now - seen.last < intervalMs) {
        seen.suppressed += 1
        return
      }
      const suppressed = seen?.suppressed ?? 0
      episodes.set(episode, { last: now, suppressed: 0 })
      target.warn(
        { package: `@scalekit/${pkg}`, episode, ...fields, ...(suppressed > 0 ? { suppressed } : {}) },
        msg,
      )
    },
    recover(episode, msg) {
      if (!episodes.delete(episode)) return
      target.info?.({ package: `@scalekit/${pkg}`, episode }, msg ?? `${episode}: recovered`)
    },
  }
}
