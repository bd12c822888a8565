import { openAiRuntime } from '@atmosphere/ai';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  type Sampler,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';

/**
 * A tracer provider that keeps every ended span in memory, with the Node context manager registered; every
 * span is sampled unless a `sampler` is given.
 */
export function inMemoryTracing(options: { sampler?: Sampler } = {}): {
  exporter: InMemorySpanExporter;
  provider: BasicTracerProvider;
  close(): Promise<void>;
} {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    ...(options.sampler ? { sampler: options.sampler } : {}),
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  return {
    exporter,
    provider,
    async close() {
      await provider.shutdown();
      manager.disable();
      context.disable();
      trace.disable();
    },
  };
}

/** The parent span id of a finished span (SDK 2 calls it `parentSpanContext`). */
export function parentOf(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** The spans of one name. */
export function named(spans: readonly ReadableSpan[], name: string): ReadableSpan[] {
  return spans.filter((span) => span.name === name);
}

/** The built-in runtime against a provider replay server at `baseUrl` (no retries), as the tests run it. */
export function replayedOpenAi(baseUrl: string): ReturnType<typeof openAiRuntime> {
  return openAiRuntime({
    env: {},
    apiKey: 'sk-test-observability-0123456789',
    model: 'gpt-4o-mini',
    baseUrl,
    retry: { maxRetries: 0 },
  });
}
