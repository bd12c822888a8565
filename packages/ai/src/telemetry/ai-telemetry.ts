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
import { describeError } from '../errors.ts';
import type { TokenUsage } from '../spi/chat.ts';

/** Seconds buckets of model and tool durations (OpenTelemetry GenAI's advice for operation durations). */
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** Token-count buckets (OpenTelemetry GenAI's advice for `gen_ai.client.token.usage`). */
const TOKEN_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216];

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
   * `pricing`, the run's tokens are costed at its model's price when it ends.
   */
  startRun(
    runtime: string,
    model: string | undefined,
    resourceId: string | undefined,
    pricing?: Pricing,
  ): RunMeasure | undefined {
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
        })
      : undefined;
    const price =
      pricing === undefined
        ? undefined
        : Object.hasOwn(pricing, modelLabel)
          ? pricing[modelLabel]
          : undefined;
    return new RunMeasure(this, runtime, modelLabel, span, price);
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
  #ended = false;

  constructor(
    telemetry: AiTelemetry,
    runtime: string,
    model: string,
    span: TraceSpan | undefined,
    price?: ModelPricing,
  ) {
    this.#telemetry = telemetry;
    this.runtime = runtime;
    this.model = model;
    this.span = span;
    this.price = price;
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
