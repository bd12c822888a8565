import { type AiFrame, RUN_ID_METADATA_KEY } from '@atmosphere/protocol';
import type { UIMessageChunk } from 'ai';

/** Metadata key naming the tool whose input starts streaming (`ai.toolCall.start.<id>` → tool name). */
const TOOL_START = 'ai.toolCall.start.';
/** Metadata key of a chunk of a tool call's streamed input (`ai.toolCall.delta.<id>` → text). */
const TOOL_DELTA = 'ai.toolCall.delta.';
const TOKENS = 'ai.tokens.';

function record(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** What the mapper knows of one tool call. */
interface ToolCallState {
  name: string;
  /** `tool-input-start` was sent. */
  streaming: boolean;
  /** `tool-input-available` was sent. */
  available: boolean;
  /** Its approval request, when it needed one. */
  approvalId?: string;
  /** The user denied it. */
  denied?: boolean;
}

/**
 * Turns the AI frames of one run (PROTOCOL.md §7) into the AI SDK's UI message chunks, the stream `useChat`
 * reads: text (`text-start/delta/end`), reasoning, tool input streaming, tool calls and results, approvals
 * (`tool-approval-request`), sources (`source-url`), step boundaries, progress and entities as data parts, and
 * the finish with usage as message metadata (`{ usage, model }`). A terminal frame ends the message (`finish`,
 * or `error`). Stateful: one mapper per UI stream of a run; it never throws on a frame it does not know.
 *
 * An `approval-required` frame pauses the message the way the AI SDK does: the chunks end with
 * `tool-approval-request` and `finish`, and the caller stops reading (`paused`) until the user's answer —
 * `useChat`'s `addToolApprovalResponse` — comes back with the next request; {@link answered} then resumes it.
 */
export class UiChunkMapper {
  #textId: string | undefined;
  #reasoningId: string | undefined;
  #parts = 0;
  #steps = 0;
  #sources = 0;
  #started = false;
  #ended = false;
  #paused = false;
  readonly #tools = new Map<string, ToolCallState>();
  readonly #byName = new Map<string, string>();
  readonly #usage: Record<string, number> = {};
  #model: string | undefined;

  /** True once a terminal frame was mapped. */
  get ended(): boolean {
    return this.#ended;
  }

  /** True after an approval request, until {@link answered}. */
  get paused(): boolean {
    return this.#paused;
  }

  /** The chunks that open a message (`start`, `start-step`); sent once, before the first frame's chunks. */
  start(messageId?: string): UIMessageChunk[] {
    if (this.#started) return [];
    this.#started = true;
    this.#steps = 1;
    return [
      messageId === undefined ? { type: 'start' } : { type: 'start', messageId },
      { type: 'start-step' },
    ];
  }

  /**
   * The user answered approval `approvalId` (found in a request's messages): the message goes on after it.
   * Returns the `tool-approval-response` chunk, or nothing for an approval this mapper did not ask for.
   */
  answered(approvalId: string, approved: boolean): UIMessageChunk[] {
    for (const call of this.#tools.values()) {
      if (call.approvalId !== approvalId) continue;
      call.denied = !approved;
      this.#paused = false;
      return [{ type: 'tool-approval-response', approvalId, approved }];
    }
    return [];
  }

  /** Toolcall id of the approval, for an approval this mapper asked for. */
  toolCallOf(approvalId: string): string | undefined {
    for (const [id, call] of this.#tools) if (call.approvalId === approvalId) return id;
    return undefined;
  }

  /**
   * The chunks for one frame (after {@link start}). `decision` is the known answer to an `approval-required`
   * frame (a replay of a run that went on after it): the request and its response are sent, without a pause.
   */
  frame(frame: AiFrame, decision?: { readonly approved: boolean }): UIMessageChunk[] {
    if (this.#ended) return [];
    const out: UIMessageChunk[] = this.start();
    switch (frame.type) {
      case 'streaming-text':
        if (frame.data.length === 0) return out;
        this.#closeReasoning(out);
        if (this.#textId === undefined) {
          this.#textId = `text-${++this.#parts}`;
          out.push({ type: 'text-start', id: this.#textId });
        }
        out.push({ type: 'text-delta', id: this.#textId, delta: frame.data });
        return out;
      case 'progress':
        out.push({ type: 'data-progress', data: { message: frame.data }, transient: true });
        return out;
      case 'metadata':
        this.#metadata(frame.key, frame.value, out);
        return out;
      case 'complete':
        this.#finish(out, 'stop');
        return out;
      case 'error':
        this.#closeText(out);
        this.#closeReasoning(out);
        out.push({ type: 'error', errorText: frame.data });
        this.#ended = true;
        return out;
      case 'event':
        this.#event(frame.event, record(frame.data), out, decision);
        return out;
    }
  }

  #metadata(key: string, value: unknown, out: UIMessageChunk[]): void {
    if (key === RUN_ID_METADATA_KEY) return;
    if (key === 'ai.model') {
      this.#model = text(value);
      return;
    }
    if (key.startsWith(TOKENS)) {
      if (typeof value === 'number') this.#usage[key.slice(TOKENS.length)] = value;
      return;
    }
    if (key.startsWith(TOOL_START)) {
      const id = key.slice(TOOL_START.length);
      const name = text(value);
      if (name === undefined || this.#tools.has(id)) return;
      this.#closeText(out);
      this.#closeReasoning(out);
      this.#tools.set(id, { name, streaming: true, available: false });
      out.push({ type: 'tool-input-start', toolCallId: id, toolName: name });
      return;
    }
    if (key.startsWith(TOOL_DELTA)) {
      const call = this.#tools.get(key.slice(TOOL_DELTA.length));
      const delta = text(value);
      if (call?.streaming && !call.available && delta !== undefined)
        out.push({
          type: 'tool-input-delta',
          toolCallId: key.slice(TOOL_DELTA.length),
          inputTextDelta: delta,
        });
    }
  }

  #event(
    name: string,
    data: Record<string, unknown>,
    out: UIMessageChunk[],
    decision: { readonly approved: boolean } | undefined,
  ): void {
    switch (name) {
      case 'reasoning-delta': {
        const delta = text(data['text']);
        if (!delta) return;
        this.#closeText(out);
        if (this.#reasoningId === undefined) {
          this.#reasoningId = `reasoning-${++this.#parts}`;
          out.push({ type: 'reasoning-start', id: this.#reasoningId });
        }
        out.push({ type: 'reasoning-delta', id: this.#reasoningId, delta });
        return;
      }
      case 'reasoning-complete':
        this.#closeReasoning(out);
        return;
      case 'tool-start': {
        const id = this.#callId(data);
        this.#available(id, text(data['toolName']) ?? 'tool', data['arguments'], out);
        return;
      }
      case 'approval-required': {
        const approvalId = text(data['approvalId']);
        if (approvalId === undefined) return;
        const id = this.#callId(data);
        this.#available(id, text(data['toolName']) ?? 'tool', data['arguments'], out);
        this.#tools.get(id)!.approvalId = approvalId;
        out.push({ type: 'tool-approval-request', approvalId, toolCallId: id });
        if (decision) {
          this.#tools.get(id)!.denied = !decision.approved;
          out.push({ type: 'tool-approval-response', approvalId, approved: decision.approved });
          return;
        }
        out.push({ type: 'finish-step' }, { type: 'finish', finishReason: 'tool-calls' });
        this.#paused = true;
        return;
      }
      case 'tool-result': {
        const id = this.#callId(data);
        this.#available(id, text(data['toolName']) ?? 'tool', {}, out);
        out.push({ type: 'tool-output-available', toolCallId: id, output: data['result'] ?? null });
        return;
      }
      case 'tool-error': {
        const id = this.#callId(data);
        this.#available(id, text(data['toolName']) ?? 'tool', {}, out);
        if (this.#tools.get(id)?.denied) out.push({ type: 'tool-output-denied', toolCallId: id });
        else
          out.push({
            type: 'tool-output-error',
            toolCallId: id,
            errorText: text(data['error']) ?? 'The tool failed.',
          });
        return;
      }
      case 'citation': {
        const url = text(data['url']);
        const title = text(data['title']);
        const sourceId = text(data['source']) ?? `source-${++this.#sources}`;
        if (url !== undefined)
          out.push({ type: 'source-url', sourceId, url, ...(title === undefined ? {} : { title }) });
        else
          out.push({ type: 'source-document', sourceId, mediaType: 'text/plain', title: title ?? sourceId });
        return;
      }
      case 'agent-step': {
        if (data['stepName'] !== 'step-start') return;
        const step = record(data['data'])['step'];
        if (typeof step !== 'number' || step <= this.#steps) return;
        this.#steps = step;
        this.#closeText(out);
        this.#closeReasoning(out);
        out.push({ type: 'finish-step' }, { type: 'start-step' });
        return;
      }
      case 'entity-complete':
        out.push({ type: 'data-entity', data: { typeName: data['typeName'], entity: data['entity'] } });
        return;
      default:
        return;
    }
  }

  /** The tool call id of an event (events of runtimes that send none are paired by tool name). */
  #callId(data: Record<string, unknown>): string {
    const id = text(data['toolCallId']);
    const name = text(data['toolName']) ?? 'tool';
    if (id !== undefined) return id;
    const known = this.#byName.get(name);
    const call = known === undefined ? undefined : this.#tools.get(known);
    if (known !== undefined && call && !call.available) return known;
    const made = `call-${name}-${++this.#parts}`;
    this.#byName.set(name, made);
    return made;
  }

  #available(id: string, name: string, input: unknown, out: UIMessageChunk[]): void {
    let call = this.#tools.get(id);
    if (call?.available) return;
    this.#closeText(out);
    this.#closeReasoning(out);
    if (!call) {
      call = { name, streaming: false, available: false };
      this.#tools.set(id, call);
    }
    call.available = true;
    this.#byName.set(call.name, id);
    out.push({ type: 'tool-input-available', toolCallId: id, toolName: call.name, input: input ?? {} });
  }

  #closeText(out: UIMessageChunk[]): void {
    if (this.#textId === undefined) return;
    out.push({ type: 'text-end', id: this.#textId });
    this.#textId = undefined;
  }

  #closeReasoning(out: UIMessageChunk[]): void {
    if (this.#reasoningId === undefined) return;
    out.push({ type: 'reasoning-end', id: this.#reasoningId });
    this.#reasoningId = undefined;
  }

  #finish(out: UIMessageChunk[], finishReason: 'stop'): void {
    this.#closeText(out);
    this.#closeReasoning(out);
    out.push({ type: 'finish-step' });
    const usage = Object.keys(this.#usage).length > 0 ? { ...this.#usage } : undefined;
    const metadata = {
      ...(usage ? { usage } : {}),
      ...(this.#model === undefined ? {} : { model: this.#model }),
    };
    out.push(
      Object.keys(metadata).length > 0
        ? { type: 'finish', finishReason, messageMetadata: metadata }
        : { type: 'finish', finishReason },
    );
    this.#ended = true;
  }
}
