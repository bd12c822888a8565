import {
  type AtmosphereMetrics,
  type AtmosphereTracing,
  type BoundCounter,
  type MetricCounter,
  type MetricHistogram,
  NO_METRICS,
  NO_TRACING,
  type TraceSpan,
} from '@atmosphere/runtime/spi';
import { parseTimingMessage } from '@atmosphere/protocol';
import { describeError } from '../errors.ts';
import type { TokenUsage } from '../spi/chat.ts';

/** Seconds buckets of model and tool durations (OpenTelemetry GenAI's advice for operation durations). */
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** Token-count buckets (OpenTelemetry GenAI's advice for `gen_ai.client.token.usage`). */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];

/** Seconds buckets of the token-to-screen latencies (1 ms to 10 s). */
const PAINT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
/** Frame-count buckets of a subscriber's lag behind the model when it painted a frame. */
const LAG_BUCKETS = [0, 1, 2, 4, 8, 16, 32, 64, 128];
/** Text frames of a run whose send times are kept (a ring): a paint report about an older one is ignored. */
const SENT_RING = 256;
/** Runs whose send times are kept for paint reports (the newest; a report about an older run is refused). */
const TIMED_RUNS = 256;

/**
 * The price of a model, in US dollars per million tokens (`input`: the prompt, history and tool results sent;
 * `output`: what the model wrote), for `atmosphere_ai_cost_usd_total`.
 */
export interface ModelPricing {
  readonly input: number;
  readonly output: number;
}

/**
 * Prices by model name — the endpoint's (or prompt's) `model`, `default` for the runtime's own configured one.
 * A model without a price is not costed.
 */
export type Pricing = Readonly<Record<string, ModelPricing>>;

/** The reason `pricing` is unusable (a price missing, negative or not finite), or undefined when it is fine. */
export function pricingProblem(pricing: Pricing): string | undefined {
  for (const [model, price] of Object.entries(pricing)) {
    for (const side of ['input', 'output'] as const) {
      const value = (price as Partial<ModelPricing> | null)?.[side];
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
        return `the ${side} price of ${model} must be a finite number of US dollars per million tokens, at least 0 (got ${String(value)})`;
    }
  }
  return undefined;
}

/** What the AI package needs from the runtime to find the selected providers. */
export interface TelemetrySource {
  provider(kind: 'metrics'): AtmosphereMetrics | undefined;
  provider(kind: 'tracing'): AtmosphereTracing | undefined;
}

/**
 * The AI package's instruments on the selected `metrics` and `tracing` providers, declared once per
 * provider instance. Names follow the OpenTelemetry GenAI semantic conventions where one exists
 * (`gen_ai.client.operation.duration`, `gen_ai.client.token.usage`, `gen_ai.server.time_to_first_token`, with
 * `gen_ai.provider.name` (the runtime), `gen_ai.request.model`, `gen_ai.token.type`, `error.type`), in their
 * Prometheus form; the rest are `atmosphere_ai_*`. Labels are closed sets: runtimes, configured models,
 * registered tool names, error codes.
 */
export class AiTelemetry {
  readonly metrics: AtmosphereMetrics;
  readonly tracing: AtmosphereTracing;
  readonly metricsOn: boolean;
  readonly tracingOn: boolean;
  #active = 0;
  readonly #prompts: MetricCounter;
  readonly #duration: MetricHistogram;
  readonly #firstToken: MetricHistogram;
  readonly #tokens: MetricHistogram;
  readonly #tokensTotal: MetricCounter;
  readonly #cost: MetricCounter;
  readonly #errors: MetricCounter;
  readonly #toolCalls: MetricCounter;
  readonly #toolDuration: MetricHistogram;
  readonly #outcomes = new Map<string, BoundCounter>();
  readonly #toReceive: MetricHistogram;
  readonly #toPaint: MetricHistogram;
  readonly #lagFrames: MetricHistogram;
  readonly #reports: Record<'accepted' | 'refused', BoundCounter>;
  /** Runs that may be reported on, by run id, oldest first (bounded by {@link TIMED_RUNS}). */
  readonly #timed = new Map<string, RunMeasure>();

  constructor(metrics: AtmosphereMetrics = NO_METRICS, tracing: AtmosphereTracing = NO_TRACING) {
    this.metrics = metrics;
    this.tracing = tracing;
    this.metricsOn = metrics.enabled;
    this.tracingOn = tracing.enabled;
    const model = ['gen_ai_provider_name', 'gen_ai_request_model'];
    this.#prompts = metrics.counter({
      name: 'atmosphere_ai_prompts_total',
      help: 'Prompts run through the AI pipeline, by runtime and model.',
      labelNames: model,
    });
    this.#duration = metrics.histogram({
      name: 'gen_ai_client_operation_duration_seconds',
      help: 'Duration of AI runs (prompt to the last frame), by runtime, model and error type (empty: none).',
      labelNames: [...model, 'error_type'],
      buckets: DURATION_BUCKETS,
    });
    this.#firstToken = metrics.histogram({
      name: 'gen_ai_server_time_to_first_token_seconds',
      help: 'Time from the prompt to the first text of the answer, by runtime and model.',
      labelNames: model,
      buckets: DURATION_BUCKETS,
    });
    this.#tokens = metrics.histogram({
      name: 'gen_ai_client_token_usage',
      help: 'Tokens per AI run, by runtime, model and token type (input, output).',
      labelNames: [...model, 'gen_ai_token_type'],
      buckets: TOKEN_BUCKETS,
    });
    this.#tokensTotal = metrics.counter({
      name: 'atmosphere_ai_tokens_total',
      help: 'Tokens of AI runs, by runtime, model and token type (input, output).',
      labelNames: [...model, 'gen_ai_token_type'],
    });
    this.#cost = metrics.counter({
      name: 'atmosphere_ai_cost_usd_total',
      help: 'Spend of AI runs in US dollars, from the token counts and the configured pricing, by runtime and model.',
      labelNames: model,
    });
    this.#errors = metrics.counter({
      name: 'atmosphere_ai_errors_total',
      help: 'AI runs that ended with an error, by runtime, model and error type (the error code).',
      labelNames: [...model, 'error_type'],
    });
    this.#toolCalls = metrics.counter({
      name: 'atmosphere_ai_tool_calls_total',
      help: 'Tool calls executed, by tool and outcome (ok, error).',
      labelNames: ['gen_ai_tool_name', 'outcome'],
    });
    this.#toolDuration = metrics.histogram({
      name: 'atmosphere_ai_tool_duration_seconds',
      help: 'Duration of tool executions, by tool.',
      labelNames: ['gen_ai_tool_name'],
      buckets: DURATION_BUCKETS,
    });
    this.#toReceive = metrics.histogram({
      name: 'atmosphere_ai_token_to_receive_seconds',
      help: 'Time from a text frame sent by the server to its receipt by a client that reports paint timing, by runtime and model.',
      labelNames: model,
      buckets: PAINT_BUCKETS,
    });
    this.#toPaint = metrics.histogram({
      name: 'atmosphere_ai_token_to_paint_seconds',
      help: 'Time from a text frame sent by the server to the animation frame that painted it on a client that reports paint timing, by runtime and model.',
      labelNames: model,
      buckets: PAINT_BUCKETS,
    });
    this.#lagFrames = metrics.histogram({
      name: 'atmosphere_ai_paint_lag_frames',
      help: 'Text frames the server had sent after a frame by the time a reporting client painted it, by runtime and model.',
      labelNames: model,
      buckets: LAG_BUCKETS,
    });
    const reports = metrics.counter({
      name: 'atmosphere_ai_paint_reports_total',
      help: 'Paint timing reports from clients: accepted, or refused (malformed, out of range, about an unknown run).',
      labelNames: ['outcome'],
    });
    this.#reports = { accepted: reports.labels('accepted'), refused: reports.labels('refused') };
    metrics.gauge({
      name: 'atmosphere_ai_runs_active',
      help: 'AI runs in progress.',
      collect: (set) => set(this.#active),
    });
  }

  /** The AI instruments of the providers an Atmosphere selected (declared once per metrics instance). */
  static of(source: TelemetrySource): AiTelemetry {
    const metrics = source.provider('metrics') ?? NO_METRICS;
    const tracing = source.provider('tracing') ?? NO_TRACING;
    if (!metrics.enabled && !tracing.enabled) return NO_AI_TELEMETRY;
    const byTracing = (INSTANCES.get(metrics) ?? INSTANCES.set(metrics, new WeakMap()).get(metrics))!;
    let telemetry = byTracing.get(tracing);
    if (telemetry === undefined) {
      telemetry = new AiTelemetry(metrics, tracing);
      byTracing.set(tracing, telemetry);
    }
    return telemetry;
  }

  /**
   * A run starts: counted, and its span (`chat {model}`) started; undefined when nothing records. With
   * `pricing`, the run's tokens are costed at its model's price when it ends. With `runId`, the send times of
   * its text frames are kept for the clients' paint timing reports ({@link paintReport}).
   */
  startRun(
    runtime: string,
    model: string | undefined,
    resourceId: string | undefined,
    options: { readonly pricing?: Pricing; readonly runId?: string } = {},
  ): RunMeasure | undefined {
    const { pricing, runId } = options;
    if (!this.metricsOn && !this.tracingOn) return undefined;
    const modelLabel = model ?? 'default';
    if (this.metricsOn) {
      this.#active++;
      this.#prompts.labels(runtime, modelLabel).add();
    }
    const span = this.tracingOn
      ? this.tracing.startSpan(`chat ${modelLabel}`, {
          'gen_ai.operation.name': 'chat',
          'gen_ai.provider.name': runtime,
          'gen_ai.request.model': modelLabel,
          ...(resourceId === undefined ? {} : { 'atmosphere.resource.uuid': resourceId }),
          ...(runId === undefined ? {} : { 'atmosphere.ai.run_id': runId }),
        })
      : undefined;
    const price =
      pricing === undefined
        ? undefined
        : Object.hasOwn(pricing, modelLabel)
          ? pricing[modelLabel]
          : undefined;
    const measure = new RunMeasure(this, runtime, modelLabel, span, price, runId);
    if (runId !== undefined) {
      this.#timed.delete(runId);
      this.#timed.set(runId, measure);
      if (this.#timed.size > TIMED_RUNS) this.#timed.delete(this.#timed.keys().next().value!);
    }
    return measure;
  }

  /**
   * A client's paint timing report (`/__timing/<runId> …`, PROTOCOL.md §7), read against this server's clock
   * as it arrives: for each sample, the text frame's send time to its receipt and to its paint
   * (`atmosphere_ai_token_to_receive_seconds`, `atmosphere_ai_token_to_paint_seconds`), and the text frames
   * sent after it by the time it was painted (`atmosphere_ai_paint_lag_frames`); traced as an
   * `atmosphere.ai.paint` span, child of the run's. The report's own transit is not subtracted: the latencies
   * are upper bounds by that much. A malformed report, one about a run not kept (an unknown or old one) or
   * one whose samples are all older than the kept send times, or one from a client that was not in the
   * run's audience (`heard` says whether `resourceId` received the run's frames) is refused whole (counted,
   * and the reason returned): it changes no histogram.
   */
  paintReport(
    message: string,
    resourceId: string,
    heard: (runId: string, resourceId: string) => boolean,
  ): string | undefined {
    if (!this.metricsOn && !this.tracingOn) return undefined;
    const arrival = performance.now();
    const parsed = parseTimingMessage(message);
    const refuse = (reason: string): string => {
      if (this.metricsOn) this.#reports.refused.add();
      return reason;
    };
    if ('reason' in parsed) return refuse(parsed.reason);
    const { runId, samples } = parsed.report;
    const measure = this.#timed.get(runId);
    if (measure === undefined) return refuse('unknown run');
    if (!heard(runId, resourceId)) return refuse("not in the run's audience");
    const timings: { seq: number; toReceive: number; toPaint: number; lag: number }[] = [];
    for (const sample of samples) {
      const sentAt = measure.sentAt(sample.seq);
      if (sentAt === undefined) continue;
      const paintedAt = arrival - sample.paintedAgoMs;
      timings.push({
        seq: sample.seq,
        toReceive: Math.max(0, arrival - sample.receivedAgoMs - sentAt),
        toPaint: Math.max(0, paintedAt - sentAt),
        lag: measure.sentBy(sample.seq, paintedAt),
      });
    }
    if (timings.length === 0) return refuse('no sample of a frame still known');
    if (this.metricsOn) {
      this.#reports.accepted.add();
      const toReceive = this.#toReceive.labels(measure.runtime, measure.model);
      const toPaint = this.#toPaint.labels(measure.runtime, measure.model);
      const lag = this.#lagFrames.labels(measure.runtime, measure.model);
      for (const timing of timings) {
        toReceive.observe(timing.toReceive / 1000);
        toPaint.observe(timing.toPaint / 1000);
        lag.observe(timing.lag);
      }
    }
    if (this.tracingOn) {
      let maxPaint = 0;
      let maxReceive = 0;
      let maxLag = 0;
      for (const timing of timings) {
        maxPaint = Math.max(maxPaint, timing.toPaint);
        maxReceive = Math.max(maxReceive, timing.toReceive);
        maxLag = Math.max(maxLag, timing.lag);
      }
      this.tracing
        .startSpan(
          'atmosphere.ai.paint',
          {
            'atmosphere.ai.run_id': runId,
            'atmosphere.resource.uuid': resourceId,
            'gen_ai.request.model': measure.model,
            'atmosphere.ai.paint.samples': timings.length,
            'atmosphere.ai.paint.first_seq': timings[0]!.seq,
            'atmosphere.ai.paint.last_seq': timings[timings.length - 1]!.seq,
            'atmosphere.ai.token_to_receive_ms.max': Math.round(maxReceive),
            'atmosphere.ai.token_to_paint_ms.max': Math.round(maxPaint),
            'atmosphere.ai.paint.lag_frames.max': maxLag,
          },
          measure.span,
        )
        .end();
    }
    return undefined;
  }

  /** @internal */
  runEnded(measure: RunMeasure, firstTextAt: number, usage: TokenUsage | undefined, error: unknown): void {
    const now = performance.now();
    const { runtime, model, span } = measure;
    const errorType = error === undefined ? undefined : describeError(error).code;
    const price = measure.price;
    const cost =
      price === undefined || usage === undefined
        ? undefined
        : ((usage.input ?? 0) * price.input + (usage.output ?? 0) * price.output) / 1_000_000;
    if (this.metricsOn) {
      this.#active--;
      this.#duration.labels(runtime, model, errorType ?? '').observe((now - measure.startedAt) / 1000);
      if (firstTextAt > 0)
        this.#firstToken.labels(runtime, model).observe((firstTextAt - measure.startedAt) / 1000);
      if (usage?.input !== undefined) {
        this.#tokens.labels(runtime, model, 'input').observe(usage.input);
        this.#tokensTotal.labels(runtime, model, 'input').add(usage.input);
      }
      if (usage?.output !== undefined) {
        this.#tokens.labels(runtime, model, 'output').observe(usage.output);
        this.#tokensTotal.labels(runtime, model, 'output').add(usage.output);
      }
      if (cost !== undefined && cost > 0) this.#cost.labels(runtime, model).add(cost);
      if (errorType !== undefined) this.#errors.labels(runtime, model, errorType).add();
    }
    if (span !== undefined) {
      if (usage?.input !== undefined) span.setAttribute('gen_ai.usage.input_tokens', usage.input);
      if (usage?.output !== undefined) span.setAttribute('gen_ai.usage.output_tokens', usage.output);
      if (firstTextAt > 0)
        span.setAttribute(
          'atmosphere.ai.time_to_first_token_ms',
          Math.round(firstTextAt - measure.startedAt),
        );
      if (cost !== undefined) span.setAttribute('atmosphere.ai.cost_usd', cost);
      if (error !== undefined) span.recordError(error);
      span.end();
    }
  }

  /** A tool (a registered one: its name is a closed label) starts executing; call `end` when it settles. */
  startTool(name: string, callId: string): ToolMeasure | undefined {
    if (!this.metricsOn && !this.tracingOn) return undefined;
    const span = this.tracingOn
      ? this.tracing.startSpan(`execute_tool ${name}`, {
          'gen_ai.operation.name': 'execute_tool',
          'gen_ai.tool.name': name,
          'gen_ai.tool.call.id': callId,
        })
      : undefined;
    return new ToolMeasure(this, name, span);
  }

  /** @internal */
  toolEnded(measure: ToolMeasure, error: unknown): void {
    if (this.metricsOn) {
      const outcome = error === undefined ? 'ok' : 'error';
      const key = `${measure.name}\u0000${outcome}`;
      let counter = this.#outcomes.get(key);
      if (counter === undefined) {
        counter = this.#toolCalls.labels(measure.name, outcome);
        this.#outcomes.set(key, counter);
      }
      counter.add();
      this.#toolDuration.labels(measure.name).observe((performance.now() - measure.startedAt) / 1000);
    }
    if (measure.span !== undefined) {
      if (error !== undefined) measure.span.recordError(error);
      measure.span.end();
    }
  }
}

/** One run being measured. */
export class RunMeasure {
  readonly startedAt = performance.now();
  readonly #telemetry: AiTelemetry;
  readonly runtime: string;
  readonly model: string;
  readonly span: TraceSpan | undefined;
  /** The model's price, when the run is costed. */
  readonly price: ModelPricing | undefined;
  /** The run id, when its text frames are timed for paint reports. */
  readonly runId: string | undefined;
  /** `performance.now()` of the last {@link SENT_RING} text frames sent, at `seq % SENT_RING`. */
  #sentAt: Float64Array | undefined;
  /** The seq each `#sentAt` slot holds (0: none). */
  #sentSeq: Float64Array | undefined;
  #ended = false;

  constructor(
    telemetry: AiTelemetry,
    runtime: string,
    model: string,
    span: TraceSpan | undefined,
    price?: ModelPricing,
    runId?: string,
  ) {
    this.#telemetry = telemetry;
    this.runtime = runtime;
    this.model = model;
    this.span = span;
    this.price = price;
    this.runId = runId;
  }

  /** The text frame `seq` was sent now (kept only for a run with an id). */
  sent(seq: number): void {
    if (this.runId === undefined) return;
    const slot = seq % SENT_RING;
    (this.#sentAt ??= new Float64Array(SENT_RING))[slot] = performance.now();
    (this.#sentSeq ??= new Float64Array(SENT_RING))[slot] = seq;
  }

  /** When text frame `seq` was sent, if it still is among the kept ones. */
  sentAt(seq: number): number | undefined {
    const slot = seq % SENT_RING;
    return this.#sentSeq?.[slot] === seq ? this.#sentAt![slot] : undefined;
  }

  /** How many text frames after `seq` (among the kept ones) had been sent by `time`. */
  sentBy(seq: number, time: number): number {
    const sentSeq = this.#sentSeq;
    if (sentSeq === undefined) return 0;
    let count = 0;
    for (let slot = 0; slot < SENT_RING; slot++)
      if (sentSeq[slot]! > seq && this.#sentAt![slot]! <= time) count++;
    return count;
  }

  /** Runs `work` with the run's span current (tool spans and broadcasts become its children). */
  within<T>(work: () => T): T {
    return this.span === undefined ? work() : this.#telemetry.tracing.within(this.span, work);
  }

  /** The run ended; `firstTextAt` is `performance.now()` of its first text (0: none). Once. */
  end(firstTextAt: number, usage: TokenUsage | undefined, error?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#telemetry.runEnded(this, firstTextAt, usage, error);
  }
}

/** One tool execution being measured. */
export class ToolMeasure {
  readonly startedAt = performance.now();
  readonly #telemetry: AiTelemetry;
  readonly name: string;
  readonly span: TraceSpan | undefined;

  constructor(telemetry: AiTelemetry, name: string, span: TraceSpan | undefined) {
    this.#telemetry = telemetry;
    this.name = name;
    this.span = span;
  }

  /** Runs `work` with the tool's span current. */
  within<T>(work: () => T): T {
    return this.span === undefined ? work() : this.#telemetry.tracing.within(this.span, work);
  }

  end(error?: unknown): void {
    this.#telemetry.toolEnded(this, error);
  }
}

const INSTANCES = new WeakMap<AtmosphereMetrics, WeakMap<AtmosphereTracing, AiTelemetry>>();

/** Nothing records: `startRun` and `startTool` return undefined. */
export const NO_AI_TELEMETRY: AiTelemetry = new AiTelemetry();
