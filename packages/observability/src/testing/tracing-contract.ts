import type { Provider } from '@atmosphere/runtime';
import type { AtmosphereTracing } from '@atmosphere/runtime/spi';
import { afterEach, describe, expect, test } from 'vitest';

/** A finished span as the tracing backend exported it. */
export interface FinishedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly attributes: Readonly<Record<string, unknown>>;
  /** True when the span was marked failed. */
  readonly failed: boolean;
}

/** One implementation under test, with the spans it finished. */
export interface TracingContractSubject {
  readonly provider: Provider<'tracing'>;
  /** The spans finished so far (all sampled), in the order they ended. */
  finished(): readonly FinishedSpan[];
  /** Releases what the subject set up (its SDK). */
  close?(): unknown;
}

/** How the contract suite gets a fresh implementation, recording every span (100 % sampling). */
export interface TracingContractOptions {
  create(): TracingContractSubject | Promise<TracingContractSubject>;
  readonly timeoutMs?: number;
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The contract of a `tracing` provider, as a vitest `describe` block, run against the real tracing SDK: enabled;
 * attributes kept; spans started inside `within` (synchronously and after an await) are children of its
 * span; an explicit parent wins; a carrier from `inject` continues the same trace under the injected span (as
 * a backplane relay does); `recordError` marks the span failed; `end()` twice exports it once.
 */
export function tracingContract(name: string, options: TracingContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;

  describe(`${name}: tracing contract`, () => {
    let subject: TracingContractSubject | undefined;
    afterEach(async () => {
      await subject?.close?.();
      subject = undefined;
    });
    const start = async (): Promise<{ tracing: AtmosphereTracing; subject: TracingContractSubject }> => {
      subject = await options.create();
      const context = { env: {}, logger: silent, settings: {} };
      expect(await subject.provider.isAvailable(context)).toBe(true);
      return { tracing: await subject.provider.create(context), subject };
    };
    const byName = (spans: readonly FinishedSpan[], spanName: string): FinishedSpan => {
      const found = spans.filter((span) => span.name === spanName);
      expect(found, `one span named ${spanName}`).toHaveLength(1);
      return found[0]!;
    };

    test(
      'is enabled; attributes are kept; end() twice exports the span once',
      async () => {
        const { tracing, subject } = await start();
        expect(tracing.enabled).toBe(true);
        const span = tracing.startSpan('contract.one', { 'atmosphere.action': 'test', count: 2 });
        span.setAttribute('atmosphere.fanout', 3);
        span.end();
        span.end();
        const one = byName(subject.finished(), 'contract.one');
        expect(one.attributes).toMatchObject({
          'atmosphere.action': 'test',
          count: 2,
          'atmosphere.fanout': 3,
        });
        expect(one.failed).toBe(false);
      },
      timeout,
    );

    test(
      'spans started within a span, before and after an await, are its children; an explicit parent wins',
      async () => {
        const { tracing, subject } = await start();
        const outer = tracing.startSpan('contract.outer');
        const other = tracing.startSpan('contract.other');
        await tracing.within(outer, async () => {
          tracing.startSpan('contract.sync').end();
          await new Promise((resolve) => setTimeout(resolve, 1));
          tracing.startSpan('contract.async').end();
          tracing.startSpan('contract.explicit', {}, other).end();
        });
        outer.end();
        other.end();
        const spans = subject.finished();
        const parent = byName(spans, 'contract.outer');
        expect(byName(spans, 'contract.sync').parentSpanId).toBe(parent.spanId);
        expect(byName(spans, 'contract.async').parentSpanId).toBe(parent.spanId);
        expect(byName(spans, 'contract.async').traceId).toBe(parent.traceId);
        expect(byName(spans, 'contract.explicit').parentSpanId).toBe(byName(spans, 'contract.other').spanId);
        expect(parent.parentSpanId).toBeUndefined();
      },
      timeout,
    );

    test(
      'a carrier from inject continues the trace under the injected span; recordError marks a span failed',
      async () => {
        const { tracing, subject } = await start();
        const sender = tracing.startSpan('contract.sender');
        const carrier = tracing.inject(sender);
        expect(carrier?.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
        // What crosses a backplane is plain data.
        const received = JSON.parse(JSON.stringify(carrier)) as NonNullable<typeof carrier>;
        const relay = tracing.startSpan('contract.relay', {}, received);
        relay.recordError(new Error('relay failed'));
        relay.end();
        sender.end();
        const spans = subject.finished();
        const from = byName(spans, 'contract.sender');
        const to = byName(spans, 'contract.relay');
        expect(to.traceId).toBe(from.traceId);
        expect(to.parentSpanId).toBe(from.spanId);
        expect(to.failed).toBe(true);
      },
      timeout,
    );
  });
}
