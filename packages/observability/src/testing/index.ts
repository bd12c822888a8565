/**
 * `@atmosphere/observability/testing`: the contract suites of the runtime's `metrics` and `tracing` kinds, the subject that runs
 * it against a `prom-client` registry, and readers of a registry's samples for application tests.
 */
export {
  metricsContract,
  type MetricsContractOptions,
  type MetricsContractSubject,
} from './metrics-contract.ts';
export { histogramSample, prometheusSubject, sampleValue } from './prometheus-subject.ts';
export {
  type FinishedSpan,
  tracingContract,
  type TracingContractOptions,
  type TracingContractSubject,
} from './tracing-contract.ts';
