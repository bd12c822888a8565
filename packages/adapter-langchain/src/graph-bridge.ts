import { addUsage, type StreamingSession, type TokenUsage } from '@atmosphere/ai/spi';
import type { RunnableConfig } from '@langchain/core/runnables';
import { endStream, failStream } from './bridge.ts';
import { textOf, toTokenUsage } from './messages.ts';

/** The stream modes {@link streamGraph} asks a graph for. */
export type GraphStreamMode = 'messages' | 'updates' | 'custom';

/**
 * What {@link streamGraph} needs of a graph: LangGraph's `stream` with several stream modes, which yields
 * `[mode, chunk]` pairs. Every compiled LangGraph graph (`StateGraph#compile()`, `createReactAgent`) has it.
 */
export interface ModeStreamingGraph<Input> {
  stream(
    input: Input,
    options: Partial<RunnableConfig> & { streamMode: GraphStreamMode[] },
  ): Promise<AsyncIterable<unknown>>;
}

/** Options of {@link streamGraph}. */
export interface StreamGraphOptions {
  /** Cancels the run: passed to the graph, so its model calls and tools are aborted. Default `session.signal`. */
  readonly signal?: AbortSignal;
  /** More configuration for the run (callbacks, tags, `configurable` such as a `thread_id`). */
  readonly config?: Partial<RunnableConfig>;
  /**
   * Which graph nodes become `agent-step` events: `true` (default) for every node, a list of node names, or
   * `false` for none.
   */
  readonly steps?: boolean | readonly string[];
  /**
   * Which nodes' model tokens become the answer's text: `true` (default) for every node, or a list of node
   * names (a router or a grader whose output is not for the user stays out of the answer).
   */
  readonly textFrom?: true | readonly string[];
  /** End the session when the run ends (`complete`, or `error`). Default true. */
  readonly end?: boolean;
}

/** What {@link streamGraph} saw: the text sent, the tools called, the steps run, the usage reported. */
export interface StreamGraphResult {
  readonly text: string;
  readonly toolCalls: number;
  readonly steps: readonly string[];
  readonly usage: TokenUsage | undefined;
}

interface MessageLike {
  readonly content?: unknown;
  readonly id?: string;
  readonly name?: string;
  readonly status?: string;
  readonly tool_call_id?: string;
  readonly tool_calls?: readonly { readonly id?: string; readonly name: string; readonly args: unknown }[];
  readonly tool_call_chunks?: readonly {
    readonly id?: string;
    readonly index?: number;
    readonly args?: string;
  }[];
  readonly usage_metadata?: Parameters<typeof toTokenUsage>[0];
  getType?(): string;
  readonly type?: string;
}

function typeOf(message: MessageLike): string | undefined {
  if (typeof message.getType === 'function') return message.getType();
  return message.type;
}

function isMessage(value: unknown): value is MessageLike {
  return value !== null && typeof value === 'object' && ('content' in value || 'tool_calls' in value);
}

function pick(filter: boolean | readonly string[], node: string): boolean {
  // LangGraph's own nodes (`__start__`, `__end__`) are plumbing, not steps of the application.
  if (node.startsWith('__')) return false;
  return filter === true || (Array.isArray(filter) && filter.includes(node));
}

function argumentsOf(args: unknown): Record<string, unknown> {
  return args !== null && typeof args === 'object' && !Array.isArray(args)
    ? (args as Record<string, unknown>)
    : {};
}

/**
 * Streams an existing compiled LangGraph graph into a {@link StreamingSession} through the graph's own stream
 * modes (`messages`, `updates`, `custom`) — the lighter path than `streamEvents`, and the one LangGraph
 * recommends for chat UIs:
 * - `messages`: model tokens → `streaming-text` (only from the nodes `textFrom` allows) and tool-call deltas
 *   (`tool_call_chunks`); a node whose model does not stream has its whole message sent; `usage_metadata`
 *   summed and sent as usage when the run ends;
 * - `updates`: a node's update that requests tools (`tool_calls`) → one `tool-start` per call; a tool
 *   message in an update → `tool-result` (or `tool-error` when its status is `error`); each node that runs →
 *   an `agent-step` event (`stepName` = the node, `data.step` = LangGraph's step when known);
 * - `custom`: what a node or tool writes with `config.writer(…)` → a `progress` frame (a string as is,
 *   anything else as JSON).
 *
 * The signal (default the session's) is passed to the graph, so cancelling aborts its model calls. The
 * session ends with the run (`complete`, or `error` with the failure; `CANCELLED` when aborted) unless
 * `end: false`, in which case a failure rejects the promise instead.
 */
export async function streamGraph<Input>(
  graph: ModeStreamingGraph<Input>,
  input: Input,
  session: StreamingSession,
  options: StreamGraphOptions = {},
): Promise<StreamGraphResult> {
  const signal = options.signal ?? session.signal;
  const steps = options.steps ?? true;
  const textFrom = options.textFrom ?? true;
  const end = options.end ?? true;
  const seenSteps: string[] = [];
  let lastStep = '';
  let text = '';
  let toolCalls = 0;
  let usage: TokenUsage | undefined;

  const announce = (node: string, step: number | undefined): void => {
    const key = step === undefined ? node : `${node}:${step}`;
    if (key === lastStep || (step === undefined && lastStep.startsWith(`${node}:`))) return;
    lastStep = key;
    if (!pick(steps, node)) return;
    seenSteps.push(node);
    session.emit({
      event: 'agent-step',
      data: { stepName: node, ...(step === undefined ? {} : { data: { step } }) },
    });
  };

  const onMessage = (message: MessageLike, metadata: Readonly<Record<string, unknown>>): void => {
    const node = metadata['langgraph_node'];
    const step = metadata['langgraph_step'];
    if (typeof node === 'string') announce(node, typeof step === 'number' ? step : undefined);
    if (typeOf(message) !== 'ai') return;
    usage = addUsage(usage, toTokenUsage(message.usage_metadata));
    if (textFrom !== true && (typeof node !== 'string' || !textFrom.includes(node))) return;
    const piece = textOf(message.content);
    if (piece !== '') {
      text += piece;
      session.send(piece);
    }
    for (const part of message.tool_call_chunks ?? [])
      if (part.args)
        session.toolCallDelta(part.id ?? `${message.id ?? 'call'}:${part.index ?? 0}`, part.args);
  };

  const onUpdate = (update: Readonly<Record<string, unknown>>): void => {
    for (const [node, value] of Object.entries(update)) {
      announce(node, undefined);
      const messages =
        value !== null && typeof value === 'object' ? (value as { messages?: unknown }).messages : undefined;
      const list: readonly unknown[] = Array.isArray(messages)
        ? messages
        : isMessage(messages)
          ? [messages]
          : [];
      for (const message of list) {
        if (!isMessage(message)) continue;
        const type = typeOf(message);
        if (type === 'ai') {
          for (const call of message.tool_calls ?? []) {
            toolCalls++;
            session.emit({
              event: 'tool-start',
              data: {
                toolName: call.name,
                arguments: argumentsOf(call.args),
                toolCallId: call.id ?? `${node}:${toolCalls}`,
              },
            });
          }
        } else if (type === 'tool') {
          const toolCallId = message.tool_call_id ?? '';
          const toolName = message.name ?? '';
          session.emit(
            message.status === 'error'
              ? { event: 'tool-error', data: { toolName, error: textOf(message.content), toolCallId } }
              : { event: 'tool-result', data: { toolName, result: message.content, toolCallId } },
          );
        }
      }
    }
  };

  try {
    const stream = await graph.stream(input, {
      ...options.config,
      signal,
      streamMode: ['messages', 'updates', 'custom'],
    });
    for await (const item of stream) {
      if (!Array.isArray(item) || item.length !== 2) continue;
      const [mode, chunk] = item as [unknown, unknown];
      if (mode === 'messages' && Array.isArray(chunk)) {
        const [message, metadata] = chunk as [unknown, unknown];
        if (isMessage(message)) onMessage(message, (metadata ?? {}) as Readonly<Record<string, unknown>>);
      } else if (mode === 'updates' && chunk !== null && typeof chunk === 'object') {
        onUpdate(chunk as Readonly<Record<string, unknown>>);
      } else if (mode === 'custom') {
        session.progress(typeof chunk === 'string' ? chunk : JSON.stringify(chunk));
      }
    }
    endStream(session, signal, end, usage);
  } catch (error) {
    failStream(session, signal, end, error);
  }
  return { text, toolCalls, steps: seenSteps, usage };
}
