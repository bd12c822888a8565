import {
  addUsage,
  cancelledError,
  isAbortError,
  type StreamingSession,
  type TokenUsage,
} from '@atmosphere/ai/spi';
import type { StreamEvent } from '@langchain/core/tracers/log_stream';
import type { RunnableConfig } from '@langchain/core/runnables';
import { classifyModelError } from './errors.ts';
import { textOf, toTokenUsage } from './messages.ts';

/** What {@link streamRunnable} needs of a runnable: LangChain's `streamEvents` (v2). */
export interface EventStreamingRunnable<Input> {
  streamEvents(
    input: Input,
    options: Partial<RunnableConfig> & { version: 'v2'; encoding?: undefined },
  ): AsyncIterable<StreamEvent>;
}

/** Options of {@link streamRunnable}. */
export interface StreamRunnableOptions {
  /** Cancels the run: passed to the runnable, so its model calls and tools are aborted. Default `session.signal`. */
  readonly signal?: AbortSignal;
  /** More configuration for the run (callbacks, tags, `configurable` such as a LangGraph `thread_id`). */
  readonly config?: Partial<RunnableConfig>;
  /**
   * Which graph nodes become `agent-step` events: `true` (default) for every LangGraph node
   * (`metadata.langgraph_node`), a list of node names, or `false` for none.
   */
  readonly steps?: boolean | readonly string[];
  /** End the session when the run ends (`complete`, or `error`). Default true. */
  readonly end?: boolean;
}

/** What {@link streamRunnable} saw: the text sent, the tools called, the steps run, the usage reported. */
export interface StreamRunnableResult {
  readonly text: string;
  readonly toolCalls: number;
  readonly steps: readonly string[];
  readonly usage: TokenUsage | undefined;
}

function toolCallIdOf(input: unknown): string | undefined {
  if (input === null || typeof input !== 'object') return undefined;
  const id =
    (input as { id?: unknown; tool_call_id?: unknown }).id ??
    (input as { tool_call_id?: unknown }).tool_call_id;
  return typeof id === 'string' ? id : undefined;
}

function toolArguments(input: unknown): Record<string, unknown> {
  if (input === null || input === undefined) return {};
  if (typeof input === 'string') {
    try {
      const parsed: unknown = JSON.parse(input);
      if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed))
        return parsed as Record<string, unknown>;
    } catch {
      // not JSON: a plain string input
    }
    return { input };
  }
  if (typeof input === 'object' && !Array.isArray(input)) {
    // A tool called with a ToolCall ({ name, args, id }) or with its arguments directly.
    const args = (input as { args?: unknown }).args;
    if ((input as { type?: unknown }).type === 'tool_call' && args !== null && typeof args === 'object')
      return args as Record<string, unknown>;
    return input as Record<string, unknown>;
  }
  return { input };
}

function toolResult(output: unknown): unknown {
  // ToolNode returns a ToolMessage; a tool called on its own returns its value.
  if (output !== null && typeof output === 'object' && 'content' in output && 'tool_call_id' in output)
    return (output as { content: unknown }).content;
  return output;
}

interface RequestedCall {
  readonly id: string;
  readonly name: string;
  readonly args: string;
}

/** The id of the model's pending call this tool run answers (same name and arguments first), removed. */
function takeRequested(requested: RequestedCall[], name: string, args: string): string | undefined {
  let index = requested.findIndex((call) => call.name === name && call.args === args);
  if (index < 0) index = requested.findIndex((call) => call.name === name);
  if (index < 0) return undefined;
  const [call] = requested.splice(index, 1);
  return call?.id;
}

function wantsStep(steps: boolean | readonly string[], node: string): boolean {
  // LangGraph's own nodes (`__start__`, `__end__`) are plumbing, not steps of the application.
  if (node.startsWith('__')) return false;
  return steps === true || (Array.isArray(steps) && steps.includes(node));
}

/**
 * Streams an existing LangChain runnable — a chain, an agent, a compiled LangGraph graph — into a
 * {@link StreamingSession}, through `streamEvents` (v2):
 * - `on_chat_model_stream` → `streaming-text` (the chunk's text) and tool-call deltas (`tool_call_chunks`);
 *   a model that does not stream has its whole text sent at `on_chat_model_end`;
 * - `on_tool_start` / `on_tool_end` / `on_tool_error` → `tool-start` / `tool-result` / `tool-error` events;
 * - `on_chain_start` of a LangGraph node → an `agent-step` event (`stepName` = the node, `data.step`);
 * - a custom event named `progress` (`dispatchCustomEvent('progress', 'Searching…')`) → a `progress` frame;
 * - `usage_metadata` of every model call → summed, sent as usage when the run ends.
 *
 * The signal (default the session's) is passed to the run, so cancelling aborts its model calls. The
 * session ends with the run (`complete`, or `error` with the failure; `CANCELLED` when aborted) unless
 * `end: false`. With `end` (the default) it never rejects; with `end: false` a failure rejects the promise
 * instead (the caller ends the session). The result describes what was streamed.
 */
export async function streamRunnable<Input>(
  runnable: EventStreamingRunnable<Input>,
  input: Input,
  session: StreamingSession,
  options: StreamRunnableOptions = {},
): Promise<StreamRunnableResult> {
  const signal = options.signal ?? session.signal;
  const steps = options.steps ?? true;
  const end = options.end ?? true;
  const seenSteps: string[] = [];
  const toolNames = new Map<string, string>();
  const callIds = new Map<string, string>();
  const requested: RequestedCall[] = [];
  const streamedRuns = new Set<string>();
  let text = '';
  let toolCalls = 0;
  let usage: TokenUsage | undefined;
  try {
    const events = runnable.streamEvents(input, { ...options.config, signal, version: 'v2' });
    for await (const event of events) {
      switch (event.event) {
        case 'on_chat_model_stream': {
          const chunk = event.data.chunk as
            | { content?: unknown; tool_call_chunks?: { id?: string; index?: number; args?: string }[] }
            | undefined;
          const piece = textOf(chunk?.content);
          if (piece !== '') {
            text += piece;
            streamedRuns.add(event.run_id);
            session.send(piece);
          }
          for (const part of chunk?.tool_call_chunks ?? [])
            if (part.args) session.toolCallDelta(part.id ?? `${event.run_id}:${part.index ?? 0}`, part.args);
          break;
        }
        case 'on_chat_model_end': {
          const output = event.data.output as
            | {
                usage_metadata?: Parameters<typeof toTokenUsage>[0];
                tool_calls?: { id?: string; name: string; args: unknown }[];
                content?: unknown;
              }
            | undefined;
          usage = addUsage(usage, toTokenUsage(output?.usage_metadata));
          // A model that does not stream hands its whole answer over at the end.
          if (!streamedRuns.has(event.run_id)) {
            const whole = textOf(output?.content);
            if (whole !== '') {
              text += whole;
              session.send(whole);
            }
          }
          streamedRuns.delete(event.run_id);
          for (const call of output?.tool_calls ?? [])
            if (call.id) requested.push({ id: call.id, name: call.name, args: JSON.stringify(call.args) });
          break;
        }
        case 'on_tool_start': {
          toolCalls++;
          toolNames.set(event.run_id, event.name);
          const args = toolArguments(event.data.input);
          // A tool node hands the tool its arguments only: its call id is the model's request it answers.
          const toolCallId =
            toolCallIdOf(event.data.input) ??
            takeRequested(requested, event.name, JSON.stringify(args)) ??
            event.run_id;
          callIds.set(event.run_id, toolCallId);
          session.emit({
            event: 'tool-start',
            data: { toolName: event.name, arguments: args, toolCallId },
          });
          break;
        }
        case 'on_tool_end': {
          const output: unknown = event.data.output;
          const id =
            (output !== null && typeof output === 'object'
              ? (output as { tool_call_id?: unknown }).tool_call_id
              : undefined) ?? toolCallIdOf(event.data.input);
          session.emit({
            event: 'tool-result',
            data: {
              toolName: event.name,
              result: toolResult(output),
              toolCallId: typeof id === 'string' ? id : (callIds.get(event.run_id) ?? event.run_id),
            },
          });
          break;
        }
        case 'on_tool_error': {
          const error = (event.data as { error?: unknown }).error;
          session.emit({
            event: 'tool-error',
            data: {
              toolName: toolNames.get(event.run_id) ?? event.name,
              error: error instanceof Error ? error.message : String(error),
              toolCallId: callIds.get(event.run_id) ?? event.run_id,
            },
          });
          break;
        }
        case 'on_chain_start': {
          const metadata: Readonly<Record<string, unknown>> = event.metadata;
          const node = metadata['langgraph_node'];
          if (typeof node === 'string' && node === event.name && wantsStep(steps, node)) {
            seenSteps.push(node);
            const step = metadata['langgraph_step'];
            session.emit({
              event: 'agent-step',
              data: { stepName: node, ...(typeof step === 'number' ? { data: { step } } : {}) },
            });
          }
          break;
        }
        case 'on_custom_event': {
          if (event.name === 'progress') {
            const data: unknown = event.data;
            session.progress(typeof data === 'string' ? data : JSON.stringify(data));
          }
          break;
        }
        default:
          break;
      }
    }
    endStream(session, signal, end, usage);
  } catch (error) {
    failStream(session, signal, end, error);
  }
  return { text, toolCalls, steps: seenSteps, usage };
}

/**
 * The end of a streamed run that went through: `CANCELLED` when the signal was aborted meanwhile, else (with
 * `end`) the usage and `complete`. Shared by {@link streamRunnable} and `streamGraph`.
 */
export function endStream(
  session: StreamingSession,
  signal: AbortSignal,
  end: boolean,
  usage: TokenUsage | undefined,
): void {
  if (signal.aborted) throw cancelledError(signal.reason);
  if (!end) return;
  if (usage) session.usage(usage);
  session.complete();
}

/** A streamed run that failed: the session ends with the classified error, or (without `end`) it is thrown. */
export function failStream(
  session: StreamingSession,
  signal: AbortSignal,
  end: boolean,
  error: unknown,
): void {
  const failure =
    signal.aborted || isAbortError(error) ? cancelledError(signal.reason) : classifyModelError(error);
  if (!end) throw failure;
  session.error(failure);
}
