import { type Broadcaster, createAtmosphere, type Logger, type Provider } from '@atmosphere/runtime';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { BENCH_PATH, type ServerConfig, type ServerTarget, type TokenStream } from './target.ts';
import { emitTokens } from './tokens.ts';

/** Warnings and errors go to stderr (a slow-client disconnect is worth seeing); the rest is dropped. */
export function benchLogger(name: string): Logger & { warnings: number } {
  const logger = {
    warnings: 0,
    debug() {},
    info() {},
    warn(message: string) {
      if (logger.warnings++ < 5) console.error(`[${name}] warn: ${message}`);
    },
    error(message: string, fields?: Record<string, unknown>) {
      console.error(`[${name}] error: ${message}`, fields ?? '');
    },
  };
  return logger;
}

/**
 * Atmosphere as an application would run it: one managed path, every client subscribed to its broadcaster,
 * broadcasts through `Broadcaster.broadcast()`. Defaults everywhere except heartbeats (the run's setting),
 * the log level, and autoload (nothing else is installed here); with `redis`, the Redis backplane.
 */
export async function startAtmosphere(config: ServerConfig): Promise<ServerTarget> {
  // Loaded only when asked for, like an application that installs it.
  const providers: Provider[] = config.redis
    ? [(await import('@atmosphere/redis')).redisBackplane(config.redis)]
    : [];
  const stores = [
    { kind: 'stream-log' as const, store: config.log },
    { kind: 'session-store' as const, store: config.sessions },
  ];
  for (const { kind, store } of stores) {
    if (store === undefined) continue;
    const { durable } = await import('@atmosphere/durable-sessions');
    providers.push(
      ...durable(
        store.store === 'sqlite'
          ? { sqlite: store.file, kinds: [kind] }
          : { redis: store.url, prefix: store.prefix, kinds: [kind] },
      ),
    );
  }
  if (config.metrics) {
    const [{ metrics }, { Registry }] = await Promise.all([
      import('@atmosphere/observability'),
      import('prom-client'),
    ]);
    providers.push(metrics({ registry: new Registry() }));
  }
  if (config.tracing) providers.push(await benchTracing(config.tracing, config.broadcastSpans));
  const atmosphere = await createAtmosphere({
    providers,
    port: config.sharedPort ?? 0,
    host: '127.0.0.1',
    reusePort: config.sharedPort !== undefined,
    logger: benchLogger('atmosphere'),
    autoload: false,
    heartbeat: config.heartbeatMs > 0 ? { intervalMs: config.heartbeatMs } : false,
    shutdownTimeoutMs: 2_000,
  });
  atmosphere.managed(BENCH_PATH, {}, { codec: 'text' });
  let broadcaster: Broadcaster | undefined;
  const onError = (error: unknown): void => console.error('[atmosphere] broadcast failed', error);
  return {
    port: atmosphere.address()!.port,
    connections: () => atmosphere.describe().resources.connected,
    broadcast(payload) {
      if (broadcaster === undefined || broadcaster.destroyed)
        broadcaster = atmosphere.broadcasters.get(BENCH_PATH);
      broadcaster.broadcast(payload).catch(onError);
    },
    async stream(stream: TokenStream) {
      // Loaded on first use, so the other scenarios run even if @atmosphere/ai does not load.
      const { createResourceSession } = await import('@atmosphere/ai');
      const resource = [...atmosphere.resources()].find((r) => r.state === 'connected');
      if (!resource) throw new Error('no connected client to stream to');
      const session = createResourceSession(resource);
      const sentAt = await emitTokens(stream, (text) => {
        session.send(text);
        return session.seq;
      });
      session.complete();
      // Once every frame is delivered: with a store that appends asynchronously they go after the stream's
      // turn, and the reply (and the CPU sample after it) would otherwise fall inside the measured delivery.
      await atmosphere.broadcasters.get(BENCH_PATH).settled();
      return sentAt;
    },
    async readLog(count) {
      const state = await atmosphere.log.state(BENCH_PATH);
      if (state === undefined) return { micros: 0, records: 0 };
      const started = performance.now();
      let records = 0;
      let after = Math.max(0, state.last - count);
      while (records < count) {
        const read = await atmosphere.log.read(BENCH_PATH, after, { limit: count - records });
        if (read === undefined || read.records.length === 0) break;
        records += read.records.length;
        after = read.records.at(-1)!.seq;
      }
      return { micros: (performance.now() - started) * 1000, records };
    },
    close: () => atmosphere.close({ timeoutMs: 2_000 }),
  };
}

/**
 * The `tracing` provider over the OpenTelemetry trace SDK as an application sets it up (a tracer provider, a
 * batching span processor, the async-hooks context manager), with every trace dropped by the sampler
 * (`unsampled`) or recorded (`sampled`) and handed to an exporter that discards it.
 */
async function benchTracing(
  mode: 'unsampled' | 'sampled',
  broadcastSpans?: 'always' | 'in-sampled-trace',
): Promise<Provider> {
  const [{ tracing }, { context }, { AsyncLocalStorageContextManager }, sdk] = await Promise.all([
    import('@atmosphere/observability'),
    import('@opentelemetry/api'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/sdk-trace-base'),
  ]);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const discard: SpanExporter = {
    export(spans, done) {
      done({ code: 0 });
    },
    shutdown: () => Promise.resolve(),
  };
  const provider = new sdk.BasicTracerProvider({
    sampler: mode === 'sampled' ? new sdk.AlwaysOnSampler() : new sdk.AlwaysOffSampler(),
    spanProcessors: [new sdk.BatchSpanProcessor(discard)],
  });
  return tracing({
    tracer: provider.getTracer('bench'),
    ...(broadcastSpans === undefined ? {} : { broadcastSpans }),
  });
}
