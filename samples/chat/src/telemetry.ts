import { context, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';

/** Where the sample's traces go, decided by {@link tracingExporter}. */
export type TracesDestination =
  { readonly exporter: 'otlp'; readonly url: string } | { readonly exporter: 'console' } | undefined;

/**
 * Where traces go, from the standard OpenTelemetry variables: `OTEL_TRACES_EXPORTER=none` turns them off,
 * `console` prints each span on stdout, `otlp` (the default as soon as `OTEL_EXPORTER_OTLP_ENDPOINT` or
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set) sends them over OTLP/HTTP (JSON) to
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, else
 * `http://localhost:4318/v1/traces`. With none of them set, tracing is off (undefined). Throws on an exporter
 * name it does not know, naming the ones it does.
 */
export function tracingExporter(env: Readonly<Record<string, string | undefined>>): TracesDestination {
  const named = env['OTEL_TRACES_EXPORTER']?.trim().toLowerCase() || undefined;
  const tracesEndpoint = env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']?.trim() || undefined;
  const endpoint = env['OTEL_EXPORTER_OTLP_ENDPOINT']?.trim() || undefined;
  if (named === 'none') return undefined;
  if (named === 'console') return { exporter: 'console' };
  if (named !== undefined && named !== 'otlp')
    throw new Error(
      `OTEL_TRACES_EXPORTER=${named} is not supported by the chat sample: use otlp (with OTEL_EXPORTER_OTLP_ENDPOINT), console or none.`,
    );
  if (named === undefined && tracesEndpoint === undefined && endpoint === undefined) return undefined;
  const url = tracesEndpoint ?? `${(endpoint ?? 'http://localhost:4318').replace(/\/+$/, '')}/v1/traces`;
  try {
    new URL(url);
  } catch {
    throw new Error(
      `The OTLP traces endpoint ${url} is not a URL (OTEL_EXPORTER_OTLP_ENDPOINT=http://host:4318).`,
    );
  }
  return { exporter: 'otlp', url };
}

/** The sample's OpenTelemetry SDK, when tracing is on. */
export interface ChatTracing {
  readonly destination: NonNullable<TracesDestination>;
  /** The tracer `tracing({ tracer })` records Atmosphere's spans with. */
  readonly tracer: Tracer;
  /** Exports what is still buffered, then stops the SDK. */
  close(): Promise<void>;
}

/**
 * Starts the OpenTelemetry trace SDK where {@link tracingExporter} says (or returns undefined: off): a tracer
 * provider with a batching span processor, `service.name` from `OTEL_SERVICE_NAME` (default
 * `atmosphere-chat`), and the async-hooks context manager so spans nest across awaits (registered globally, once
 * per process: a context manager already registered is kept). The provider is not made the global one: the
 * sample hands its tracer to `tracing({ tracer })`, so two chats in one process keep their traces apart.
 */
export function startTracing(env: Readonly<Record<string, string | undefined>>): ChatTracing | undefined {
  const destination = tracingExporter(env);
  if (destination === undefined) return undefined;
  const exporter: SpanExporter =
    destination.exporter === 'console'
      ? new ConsoleSpanExporter()
      : new OTLPTraceExporter({ url: destination.url });
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': env['OTEL_SERVICE_NAME'] || 'atmosphere-chat' }),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  const manager = new AsyncLocalStorageContextManager();
  const registered = context.setGlobalContextManager(manager.enable());
  if (!registered) manager.disable();
  return {
    destination,
    tracer: provider.getTracer('atmosphere-chat'),
    async close() {
      await provider.shutdown();
      if (registered) {
        manager.disable();
        context.disable();
      }
    },
  };
}
