import { performance } from 'node:perf_hooks'
import { isPromiseLike } from '@scalekit/internal'
import type { Logger } from '@scalekit/internal'
import { ObservabilityArgumentError, ObservabilityOptionsError } from './errors'
import { functionMetrics } from './metrics/definitions'
import { type Metrics, metricsInternals } from './metrics/metrics'
import type { Counter, Histogram } from 'prom-client'
import { LabelSets } from './internal/series'

/** What {@link createInstrumentation} records into. */
export interface InstrumentationOptions {
  /** Duration histogram, error counter and in-flight gauge go here. @default none (no metrics) */
  metrics?: Metrics
  /** A failed call is logged here at `error` (or `warn`, when the logger has no `error`). @default none */
  logger?: Logger
}

/** Options of one instrumented function. */
export interface InstrumentOptions {
  /** The `function` label and log field. Required for `instrument()`; decorators default to `Class.method`. */
  name?: string
}

/** A method decorator usable in both TypeScript modes: standard (TC39) and `experimentalDecorators`. */
export interface MethodDecorator {
  /** Standard (TC39) decorators. */
  <This, Args extends unknown[], R>(
    value: (this: This, ...args: Args) => R,
    context: ClassMethodDecoratorContext<This, (this: This, ...args: Args) => R>,
  ): (this: This, ...args: Args) => R
  /** `experimentalDecorators` (NestJS, TypeORM, Angular). */
  <T>(
    target: object,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<T>,
  ): TypedPropertyDescriptor<T>
}

/** Wrappers and decorators bound to one set of metrics and one logger (destructure them freely). */
export interface Instrumentation {
  /**
   * `fn` wrapped: every call records its duration (`function_call_duration_seconds`), an error by
   * code (`function_call_errors_total`), calls in flight (`function_calls_active`), and logs a failure.
   * Sync, async, generator and async generator functions alike (a generator is timed from the call
   * until it completes, throws or is returned early). The wrapper keeps `this`.
   */
  readonly instrument: <F extends (...args: never[]) => unknown>(
    fn: F,
    options: InstrumentOptions & { name: string },
  ) => F
  /** Metrics of every call of the method (no log line). */
  readonly timed: (options?: InstrumentOptions) => MethodDecorator
  /** A log line for every failed call of the method (at `error`) and every completed one (at `debug`). */
  readonly logged: (options?: InstrumentOptions) => MethodDecorator
}

interface Series {
  readonly duration: Histogram
  readonly errors: Counter
  /** Calls in flight by function, read into `function_calls_active` at scrape time. */
  readonly active: Map<string, number>
  readonly durationSets: LabelSets
  readonly errorSets: LabelSets
}

interface Recorder {
  readonly metrics: boolean
  readonly log: 'errors' | 'all' | 'none'
}

/** The code of an error for the `error_code` label: its string `code`, else its name. */
function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string' && code.length <= 80) return code
    const name = (error as { name?: unknown }).name
    if (typeof name === 'string' && name.length <= 80) return name
  }
  return 'unknown'
}

function isGenerator(value: unknown): value is Generator {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Generator).next === 'function' &&
    typeof (value as Generator).throw === 'function' &&
    Symbol.iterator in value
  )
}

function isAsyncGenerator(value: unknown): value is AsyncGenerator {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as AsyncGenerator).next === 'function' &&
    typeof (value as AsyncGenerator).throw === 'function' &&
    Symbol.asyncIterator in value
  )
}

class Instrumenter {
  readonly #metrics: ReturnType<typeof metricsInternals> | undefined
  readonly #logger: Logger | undefined
  #series: Series | undefined

  constructor(options: InstrumentationOptions) {
    const given: unknown = options
    if (typeof given !== 'object' || given === null)
      throw new ObservabilityOptionsError(
        `createInstrumentation() takes an options object, got ${typeof given}`,
      )
    this.#metrics = options.metrics === undefined ? undefined : metricsInternals(options.metrics)
    if (options.logger !== undefined && typeof (options.logger as { warn?: unknown }).warn !== 'function')
      throw new ObservabilityOptionsError('logger must have warn(obj, msg) (pino, console…)')
    this.#logger = options.logger
  }

  instrument<F extends (...args: never[]) => unknown>(
    fn: F,
    options: InstrumentOptions & { name: string },
  ): F {
    if (typeof fn !== 'function') throw new ObservabilityArgumentError('instrument() takes a function')
    const name = (options as InstrumentOptions | undefined)?.name
    if (typeof name !== 'string' || name.length === 0 || name.length > 120)
      throw new ObservabilityArgumentError('instrument(fn, { name }) needs a name of 1 to 120 characters')
    return this.#wrap(fn, () => name, { metrics: true, log: 'errors' })
  }

  timed(options: InstrumentOptions = {}): MethodDecorator {
    return this.#decorator(options, { metrics: true, log: 'none' })
  }

  logged(options: InstrumentOptions = {}): MethodDecorator {
    return this.#decorator(options, { metrics: false, log: 'all' })
  }

  #decorator(options: InstrumentOptions, recorder: Recorder): MethodDecorator {
    const given: unknown = options
    if (typeof given !== 'object' || given === null)
      throw new ObservabilityArgumentError('a decorator takes an options object: { name }')
    const fixed = options.name
    const decorate = (target: unknown, context: unknown, descriptor?: PropertyDescriptor): unknown => {
      if (typeof context === 'object' && context !== null && 'kind' in context) {
        // Standard decorators: (method, context).
        const ctx = context as ClassMethodDecoratorContext
        if ((ctx as { kind: string }).kind !== 'method' || typeof target !== 'function')
          throw new ObservabilityArgumentError('@timed() and @logged() decorate methods')
        const method = String(ctx.name)
        return this.#wrap(
          target as (...args: never[]) => unknown,
          (self) => fixed ?? `${classNameOf(self, ctx.static)}.${method}`,
          recorder,
        )
      }
      // experimentalDecorators: (prototype or class, key, descriptor).
      if (descriptor === undefined || typeof descriptor.value !== 'function')
        throw new ObservabilityArgumentError('@timed() and @logged() decorate methods')
      const owner =
        typeof target === 'function' ? (target as { name: string }).name : (target as object).constructor.name
      const name = fixed ?? `${owner}.${String(context)}`
      return {
        ...descriptor,
        value: this.#wrap(descriptor.value as (...args: never[]) => unknown, () => name, recorder),
      }
    }
    return decorate as MethodDecorator
  }

  #wrap<F extends (...args: never[]) => unknown>(
    fn: F,
    nameOf: (self: unknown) => string,
    recorder: Recorder,
  ): F {
    const begin = (name: string): ((error: unknown, failed: boolean) => void) => this.#begin(name, recorder)
    const wrapped = function (this: unknown, ...args: never[]): unknown {
      const finish = begin(nameOf(this))
      let result: unknown
      try {
        result = fn.apply(this, args)
      } catch (error) {
        finish(error, true)
        throw error
      }
      if (isPromiseLike(result))
        return Promise.resolve(result).then(
          (value) => {
            finish(undefined, false)
            return value
          },
          (error: unknown) => {
            finish(error, true)
            throw error
          },
        )
      if (isAsyncGenerator(result)) return timeAsyncGenerator(result, finish)
      if (isGenerator(result)) return timeGenerator(result, finish)
      finish(undefined, false)
      return result
    }
    Object.defineProperty(wrapped, 'name', { value: fn.name })
    return wrapped as F
  }

  #seriesOf(metrics: ReturnType<typeof metricsInternals>): Series {
    if (this.#series === undefined) {
      const active = new Map<string, number>()
      metrics.gaugeSource(functionMetrics.active, function* () {
        for (const [name, count] of active) yield [[name], count] as const
      })
      this.#series = {
        duration: metrics.histogram(functionMetrics.duration),
        errors: metrics.counter(functionMetrics.errors),
        active,
        durationSets: new LabelSets(metrics, functionMetrics.duration),
        errorSets: new LabelSets(metrics, functionMetrics.errors),
      }
    }
    return this.#series
  }

  /** Starts one call of `name`: returns what ends it. */
  #begin(name: string, recorder: Recorder): (error: unknown, failed: boolean) => void {
    const series = recorder.metrics && this.#metrics !== undefined ? this.#seriesOf(this.#metrics) : undefined
    const start = performance.now()
    if (series !== undefined) series.active.set(name, (series.active.get(name) ?? 0) + 1)
    return (error, failed) => {
      const ms = performance.now() - start
      if (series !== undefined) {
        series.duration.observe(series.durationSets.of([name, failed ? 'error' : 'ok']), ms / 1000)
        series.active.set(name, (series.active.get(name) ?? 1) - 1)
        if (failed) series.errors.inc(series.errorSets.of([name, codeOf(error)]))
      }
      const logger = this.#logger
      if (logger === undefined || recorder.log === 'none') return
      const durationMs = Math.round(ms * 1000) / 1000
      if (failed) {
        const fields = { function: name, code: codeOf(error), durationMs, err: error }
        if (logger.error !== undefined) logger.error(fields, `${name} failed`)
        else logger.warn(fields, `${name} failed`)
      } else if (recorder.log === 'all') logger.debug?.({ function: name, durationMs }, `${name} completed`)
    }
  }
}

function classNameOf(self: unknown, isStatic: boolean): string {
  if (isStatic && typeof self === 'function') return (self as { name: string }).name
  if (typeof self === 'object' && self !== null) return self.constructor.name
  return 'anonymous'
}

async function* timeAsyncGenerator(
  generator: AsyncGenerator,
  finish: (error: unknown, failed: boolean) => void,
): AsyncGenerator {
  let failed = false
  let error: unknown
  try {
    return (yield* generator) as unknown
  } catch (thrown) {
    failed = true
    error = thrown
    throw thrown
  } finally {
    finish(error, failed)
  }
}

function* timeGenerator(generator: Generator, finish: (error: unknown, failed: boolean) => void): Generator {
  let failed = false
  let error: unknown
  try {
    return (yield* generator) as unknown
  } catch (thrown) {
    failed = true
    error = thrown
    throw thrown
  } finally {
    finish(error, failed)
  }
}

/**
 * `instrument()` and the `@timed()` / `@logged()` decorators, bound to your metrics and logger.
 *
 * ```ts
 * export const { instrument, timed, logged } = createInstrumentation({ metrics, logger })
 * ```
 */
export function createInstrumentation(options: InstrumentationOptions = {}): Instrumentation {
  const instrumenter = new Instrumenter(options)
  return {
    instrument: (fn, opts) => instrumenter.instrument(fn, opts),
    timed: (opts) => instrumenter.timed(opts),
    logged: (opts) => instrumenter.logged(opts),
  }
}

/**
 * One function wrapped with metrics and an error log (see {@link Instrumentation.instrument}).
 *
 * ```ts
 * const charge = instrument(chargeCard, { name: 'chargeCard', metrics, logger })
 * ```
 */
export function instrument<F extends (...args: never[]) => unknown>(
  fn: F,
  options: InstrumentOptions & InstrumentationOptions & { name: string },
): F {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    throw new ObservabilityArgumentError('instrument(fn, { name, metrics, logger }) takes an options object')
  return new Instrumenter({ metrics: options.metrics, logger: options.logger }).instrument(fn, options)
}
