export {
  ObservabilityArgumentError,
  ObservabilityCheckTimeoutError,
  ObservabilityError,
  ObservabilityMetricConflictError,
  ObservabilityOptionsError,
  errors,
} from './errors'
export { CHANNEL_PREFIX } from './channels'
export { createMetrics, metricsDefaults, OVERFLOW } from './metrics/metrics'
export type { ExemplarTraceId, GaugeSource, Metrics, MetricsOptions } from './metrics/metrics'
export type { Exposition } from './metrics/exposition'
export {
  authMetrics,
  breakerMetrics,
  cacheMetrics,
  dbMetrics,
  DURATION_BUCKETS,
  functionMetrics,
  httpMetrics,
  metricDefinitions,
  queueMetrics,
  runtimeMetrics,
  seriesOverflow,
} from './metrics/definitions'
export type { MetricDefinition, MetricKind } from './metrics/definitions'
export { metricsHandler } from './http/metrics-handler'
export { UNMATCHED_ROUTE } from './http/observer'
export type { AccessLogger, ContextPropagator, HttpObservabilityOptions } from './http/observer'
export { createLoadShedder, loadShedderDefaults } from './http/shedding'
export type { LoadShedder, LoadShedderOptions, ShedReason } from './http/shedding'
export {
  createRequestContext,
  getRequestContext,
  isRequestId,
  outgoingTraceparent,
  parseTraceparent,
  runWithMessageContext,
  runWithRequestContext,
} from './context'
export type { MessageContextCarrier, RequestContext, RequestContextInit } from './context'
export { createLogger, DEFAULT_REDACT_PATHS } from './logs/logger'
export type { LoggerOptions, ObservabilityLogger } from './logs/logger'
export type { Duration, Logger } from '@scalekit/internal'
export { instrumentScalekit, SCALEKIT_PACKAGES } from './scalekit'
export type {
  DbNodePoolHealth,
  DbPoolHealth,
  DbPoolSource,
  DbPoolSourceHealth,
  InstrumentScalekitOptions,
  ScalekitInstrumentation,
  ScalekitPackage,
} from './scalekit'
export { createInstrumentation, instrument } from './instrument'
export type {
  InstrumentationOptions,
  Instrumentation,
  InstrumentOptions,
  MethodDecorator,
} from './instrument'
export { createHealth, healthDefaults, readinessStatus } from './health/health'
export type {
  CheckOptions,
  CheckResult,
  CheckStatus,
  Health,
  HealthCheck,
  HealthOptions,
  HealthReport,
} from './health/health'
export { createShutdown, shutdownDefaults } from './health/shutdown'
export type {
  Shutdown,
  ShutdownOptions,
  ShutdownPhase,
  ShutdownReport,
  ShutdownStep,
  ShutdownTarget,
} from './health/shutdown'
