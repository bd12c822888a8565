import {
  addUsage,
  aiError,
  type AgentCapability,
  type AgentContext,
  type AgentRuntime,
  cancelledError,
  isAbortError,
  LlmError,
  redactSecrets,
  type StreamingSession,
  type TokenUsage,
} from '@atmosphere/ai/spi';
import { AtmosphereError } from '@atmosphere/runtime';
import type { Availability, Logger } from '@atmosphere/runtime/spi';
import {
  type Content,
  type GenerateContentConfig,
  type GenerateContentResponse,
  GoogleGenAI,
  type HttpOptions,
  type Part,
} from '@google/genai';
import {
  GEMINI_API_KEY_ENV,
  type GeminiConfig,
  type GeminiConfigInput,
  resolveGeminiConfig,
} from './config.ts';
import { StreamedArguments } from './streamed-arguments.ts';
import { toContents, toFunctionDeclarations, toTokenUsage } from './wire.ts';

/** The structural part of `GoogleGenAI` the runtime uses (a client the application made and owns). */
export interface GoogleGenAiClientLike {
  readonly models: Pick<GoogleGenAI['models'], 'generateContentStream'>;
}

/** Options of {@link googleGenAiRuntime}. Explicit values win over `env` (default `process.env`). */
export interface GoogleGenAiRuntimeOptions extends GeminiConfigInput {
  /** A client the application configured (Vertex AI, custom auth…); used as is, never closed. */
  readonly client?: GoogleGenAiClientLike;
  /** The API's base URL (a proxy, or a local server in tests): the SDK's `httpOptions.baseUrl`. */
  readonly baseUrl?: string;
  /**
   * Attempts per model call, the first included (the SDK's `httpOptions.retryOptions.attempts`). Default 2. A
   * prompt's `context.retry` overrides it for that prompt.
   */
  readonly attempts?: number;
  /** Default `google-genai`. */
  readonly name?: string;
  /** Default 100: above the built-in runtime (0) and the demo model (-100). */
  readonly priority?: number;
  /**
   * Which field carries a structured-output schema: `responseJsonSchema` (default: the JSON Schema as is) or
   * `responseSchema` (Gemini's OpenAPI subset; keywords it lacks, such as `additionalProperties`, are refused
   * by the API). Both set `responseMimeType: application/json`.
   */
  readonly schemaField?: 'responseJsonSchema' | 'responseSchema';
  /**
   * Ask for thought summaries (`thinkingConfig.includeThoughts`) and declare `reasoning-deltas`: the model's
   * thinking reaches the client as `reasoning-delta` events. Default false, for a thinking config is only for
   * thinking models (Gemini 2.5 and later); thought parts that arrive anyway are forwarded the same way.
   */
  readonly includeThoughts?: boolean;
  /**
   * Ask Vertex AI to stream each function call's arguments as the model writes them
   * (`toolConfig.functionCallingConfig.streamFunctionCallArguments`, Gemini 3): the pieces (`partialArgs`) become
   * tool-call deltas and, joined, the call's arguments. Vertex AI only (pass a `client` made with
   * `vertexai: true`); the Gemini API refuses it. Default false: a call arrives whole, as one delta.
   */
  readonly streamFunctionCallArguments?: boolean;
  readonly temperature?: number;
  readonly maxOutputTokens?: number;
  readonly logger?: Logger;
}

/** The runtime's default name and priority. */
export const GOOGLE_GENAI_RUNTIME = Object.freeze({ name: 'google-genai', priority: 100 });

/** What the runtime honours, whatever its options (the README's table is generated from it). */
export const GOOGLE_GENAI_CAPABILITIES: ReadonlySet<AgentCapability> = new Set<AgentCapability>([
  'text-streaming',
  'system-prompt',
  'conversation-memory',
  'tool-calling',
  'tool-approval',
  'tool-call-deltas',
  'vision',
  'structured-output',
  'token-usage',
  'cancellation',
  'per-request-retry',
]);

interface RoundResult {
  readonly parts: Part[];
  /** Each call's arguments: as the API handed them over, or the JSON text assembled from streamed pieces. */
  readonly calls: { id: string; name: string; args: Record<string, unknown> | string }[];
  readonly usage: TokenUsage | undefined;
}

/** A function call whose arguments are still arriving (`willContinue`). */
interface StreamingCall {
  /** The API's id, or one made up when it gave none. */
  readonly id: string;
  readonly apiId: string | undefined;
  readonly name: string;
  /** The signature of the call's thinking, sent back with it (on whichever piece carried it). */
  thoughtSignature: string | undefined;
  readonly args: StreamedArguments;
}

function statusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * An {@link AgentRuntime} over `@google/genai`'s `generateContentStream` (priority 100). Streams text (thought
 * summaries as `reasoning-delta` events), declares the context's tools as function declarations and runs the
 * function-calling loop through `context.runTool` (validation, approvals, tool events), reports usage metadata,
 * sends the system prompt as the system instruction, asks for JSON with `responseMimeType` and the schema, and
 * aborts the HTTP request when the run's signal aborts. A blocked prompt or a candidate stopped for safety
 * ends the answer with an error naming the reason. Ends the session itself; never rejects.
 */
export class GoogleGenAiRuntime implements AgentRuntime {
  readonly name: string;
  readonly priority: number;
  readonly capabilities: ReadonlySet<AgentCapability>;
  readonly config: GeminiConfig;
  readonly #options: GoogleGenAiRuntimeOptions;
  #client: GoogleGenAiClientLike | undefined;

  constructor(options: GoogleGenAiRuntimeOptions = {}) {
    this.#options = options;
    this.name = options.name ?? GOOGLE_GENAI_RUNTIME.name;
    this.priority = options.priority ?? GOOGLE_GENAI_RUNTIME.priority;
    this.capabilities =
      options.includeThoughts === true
        ? new Set<AgentCapability>([...GOOGLE_GENAI_CAPABILITIES, 'reasoning-deltas'])
        : GOOGLE_GENAI_CAPABILITIES;
    this.config = resolveGeminiConfig({ ...options, env: options.env ?? process.env });
    this.#client = options.client;
  }

  isAvailable(): Availability {
    if (this.#client !== undefined || this.config.apiKey !== undefined) return true;
    return {
      available: false,
      reason: `no Gemini API key: set ${GEMINI_API_KEY_ENV.join(' or ')}, or pass googleGenAi({ apiKey }) or googleGenAi({ client })`,
    };
  }

  #clientOrThrow(): GoogleGenAiClientLike {
    if (this.#client !== undefined) return this.#client;
    const apiKey = this.config.apiKey;
    if (apiKey === undefined)
      throw new AtmosphereError(
        'PROVIDER_UNAVAILABLE',
        `The google-genai runtime has no API key: set ${GEMINI_API_KEY_ENV.join(' or ')}, or pass googleGenAi({ apiKey }).`,
      );
    const httpOptions: HttpOptions = {
      retryOptions: { attempts: this.#options.attempts ?? 2 },
      ...(this.#options.baseUrl === undefined ? {} : { baseUrl: this.#options.baseUrl }),
    };
    this.#client = new GoogleGenAI({ apiKey, httpOptions });
    return this.#client;
  }

  async execute(context: AgentContext, session: StreamingSession, signal: AbortSignal): Promise<void> {
    const model = context.model ?? this.config.model;
    session.metadata('ai.model', model);
    let usage: TokenUsage | undefined;
    try {
      const client = this.#clientOrThrow();
      const contents = toContents(context.messages);
      const config = this.#config(context, signal);
      for (let round = 1; ; round++) {
        const result = await this.#round(client, model, contents, config, session, signal, round);
        usage = addUsage(usage, result.usage);
        if (result.calls.length === 0) break;
        if (round >= context.maxToolRounds)
          throw aiError(
            'TOO_MANY_TOOL_ROUNDS',
            `The model still asked for tools after ${context.maxToolRounds} rounds; the answer was stopped (option maxToolRounds).`,
          );
        // The model's turn goes back as it came (thought signatures included), then the results.
        contents.push({ role: 'model', parts: result.parts });
        const responses: Part[] = [];
        for (const call of result.calls) {
          const outcome = await context.runTool(
            { id: call.id, name: call.name, arguments: call.args },
            signal,
          );
          responses.push({
            functionResponse: {
              id: call.id,
              name: call.name,
              response: outcome.ok ? { output: outcome.content } : { error: outcome.content },
            },
          });
        }
        contents.push({ role: 'user', parts: responses });
        if (signal.aborted) throw cancelledError(signal.reason);
      }
      if (signal.aborted) throw cancelledError(signal.reason);
      if (usage) session.usage(usage);
      session.complete();
    } catch (error) {
      if (signal.aborted || isAbortError(error)) session.error(cancelledError(signal.reason));
      else session.error(this.#classify(error));
    }
  }

  #config(context: AgentContext, signal: AbortSignal): GenerateContentConfig {
    const options = this.#options;
    const format = context.responseFormat;
    const config: GenerateContentConfig = { abortSignal: signal };
    // The prompt's retries, for this request only (the SDK merges them into the client's retry options).
    if (context.retry !== undefined)
      config.httpOptions = { retryOptions: { attempts: Math.max(0, context.retry.maxRetries) + 1 } };
    if (context.systemPrompt) config.systemInstruction = context.systemPrompt;
    if (context.tools.length > 0) {
      config.tools = [{ functionDeclarations: toFunctionDeclarations(context.tools) }];
      if (options.streamFunctionCallArguments === true)
        config.toolConfig = { functionCallingConfig: { streamFunctionCallArguments: true } };
    }
    if (format !== undefined) {
      config.responseMimeType = 'application/json';
      if ((options.schemaField ?? 'responseJsonSchema') === 'responseJsonSchema')
        config.responseJsonSchema = format.jsonSchema;
      else config.responseSchema = format.jsonSchema;
    }
    if (options.includeThoughts === true) config.thinkingConfig = { includeThoughts: true };
    if (options.temperature !== undefined) config.temperature = options.temperature;
    if (options.maxOutputTokens !== undefined) config.maxOutputTokens = options.maxOutputTokens;
    return config;
  }

  async #round(
    client: GoogleGenAiClientLike,
    model: string,
    contents: readonly Content[],
    config: GenerateContentConfig,
    session: StreamingSession,
    signal: AbortSignal,
    round: number,
  ): Promise<RoundResult> {
    const parts: Part[] = [];
    const calls: RoundResult['calls'] = [];
    let usage: GenerateContentResponse['usageMetadata'];
    let streaming: StreamingCall | undefined;
    const stream = await client.models.generateContentStream({ model, contents: [...contents], config });
    for await (const chunk of stream) {
      if (signal.aborted) break;
      usage = chunk.usageMetadata ?? usage; // each chunk carries the running totals: the last one counts
      if (chunk.promptFeedback !== undefined) blocked(chunk);
      const candidate = chunk.candidates?.[0];
      for (const part of candidate?.content?.parts ?? []) {
        const call = part.functionCall;
        // Vertex AI streams a call's arguments in pieces: the piece after one that will continue is the same call.
        if (call !== undefined && (streaming !== undefined || call.willContinue === true)) {
          streaming ??= {
            id: call.id ?? `call_${round}_${calls.length}`,
            apiId: call.id,
            name: call.name ?? '',
            thoughtSignature: undefined,
            args: new StreamedArguments(),
          };
          streaming.thoughtSignature ??= part.thoughtSignature;
          for (const piece of call.partialArgs ?? []) {
            const delta = streaming.args.push(piece);
            if (delta !== '') session.toolCallDelta(streaming.id, delta);
          }
          if (call.willContinue !== true) {
            parts.push(finish(streaming, session));
            calls.push({ id: streaming.id, name: streaming.name, args: streaming.args.text });
            streaming = undefined;
          }
          continue;
        }
        parts.push(part);
        if (typeof part.text === 'string' && part.text !== '') {
          if (part.thought === true) session.emit({ event: 'reasoning-delta', data: { text: part.text } });
          else session.send(part.text);
        }
        if (call !== undefined) {
          const id = call.id ?? `call_${round}_${calls.length}`;
          const args = call.args ?? {};
          calls.push({ id, name: call.name ?? '', args });
          // A call handed over whole: its arguments are one delta.
          session.toolCallDelta(id, JSON.stringify(args));
        }
      }
      if (candidate?.finishReason !== undefined) stopped(candidate.finishReason, candidate.finishMessage);
    }
    if (signal.aborted) throw cancelledError(signal.reason);
    if (streaming !== undefined)
      throw new LlmError(
        'server_error',
        `Gemini's stream ended inside the arguments of a call to ${streaming.name} (the connection was cut).`,
      );
    return { parts, calls, usage: toTokenUsage(usage) };
  }

  #classify(error: unknown): unknown {
    if (AtmosphereError.isInstance(error)) return error;
    const status = statusOf(error);
    const detail = redactSecrets(error instanceof Error ? error.message || error.name : String(error), [
      this.config.apiKey,
    ]);
    if (status === 429)
      return new LlmError('rate_limit', `Gemini refused the request (429 rate limit): ${detail}`, {
        cause: error,
      });
    if (status !== undefined && status >= 500)
      return new LlmError('server_error', `Gemini failed (${status}): ${detail}`, { cause: error });
    return new LlmError(
      'unknown',
      `The Gemini call failed${status === undefined ? '' : ` (${status})`}: ${detail}`,
      { cause: error, retryable: false },
    );
  }

  async close(): Promise<void> {
    // The SDK client holds no connection of its own; one passed in belongs to the application.
  }
}

/**
 * Ends a streamed call: its closing delta, and the part that goes back to the model in the conversation — one
 * whole `functionCall` with the assembled arguments (and the call's thought signature), not the pieces.
 */
function finish(call: StreamingCall, session: StreamingSession): Part {
  const closing = call.args.end();
  if (closing !== '') session.toolCallDelta(call.id, closing);
  let args: Record<string, unknown>;
  try {
    args = JSON.parse(call.args.text) as Record<string, unknown>;
  } catch {
    args = {}; // not reached: the text is written as JSON; the tool gets the text and reports what is wrong
  }
  return {
    functionCall: { ...(call.apiId === undefined ? {} : { id: call.apiId }), name: call.name, args },
    ...(call.thoughtSignature === undefined ? {} : { thoughtSignature: call.thoughtSignature }),
  };
}

/** Throws when the prompt itself was blocked (`promptFeedback.blockReason`). */
function blocked(chunk: GenerateContentResponse): void {
  const reason = chunk.promptFeedback?.blockReason;
  if (reason === undefined) return;
  const why = chunk.promptFeedback?.blockReasonMessage;
  throw new LlmError(
    'unknown',
    `Gemini blocked the prompt (${reason})${why ? `: ${why}` : ''}; rephrase it, or adjust the safety settings of the model.`,
    { retryable: false },
  );
}

const STOPPED_EARLY = new Set([
  'SAFETY',
  'RECITATION',
  'BLOCKLIST',
  'PROHIBITED_CONTENT',
  'SPII',
  'IMAGE_SAFETY',
  'MALFORMED_FUNCTION_CALL',
]);

/** Throws when the answer was cut short by a safety filter or a malformed call. */
function stopped(reason: string | undefined, message: string | undefined): void {
  if (reason === undefined || !STOPPED_EARLY.has(reason)) return;
  throw new LlmError(
    'unknown',
    `Gemini stopped the answer (finish reason ${reason})${message ? `: ${message}` : ''}.`,
    { retryable: false },
  );
}

/** The Google GenAI runtime, configured from `options` and the environment. */
export function googleGenAiRuntime(options: GoogleGenAiRuntimeOptions = {}): GoogleGenAiRuntime {
  return new GoogleGenAiRuntime(options);
}
