import type { Provider } from '@atmosphere/runtime/spi';
import { OpenTelemetryTracing, type OpenTelemetryTracingOptions } from './opentelemetry-tracing.ts';

/** The name of the `tracing` provider {@link tracing} makes. */
export const TRACING_PROVIDER = 'opentelemetry';

/**
 * The `tracing` provider over `@opentelemetry/api` (priority 10, above the built-in `none`):
 * `createAtmosphere({ providers: [tracing()] })`. Set up the OpenTelemetry SDK (a tracer provider, a context
 * manager, a propagator; `@opentelemetry/sdk-node` does all three) before starting Atmosphere.
 */
export function tracing(options: OpenTelemetryTracingOptions = {}): Provider<'tracing'> {
  return {
    kind: 'tracing',
    name: TRACING_PROVIDER,
    priority: 10,
    isAvailable: () => true,
    create: () => new OpenTelemetryTracing(options),
  };
}
