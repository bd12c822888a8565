import {
  type Atmosphere,
  atmosphere as defaultClient,
  type AtmosphereRequest,
  type StreamingHandle,
  subscribeStreaming,
} from '@atmosphere/client';
import {
  type AiFrame,
  approvalMessage,
  isTerminalFrame,
  RUN_ID_METADATA_KEY,
  SESSION_TOKEN_PATTERN,
  stopMessage,
} from '@atmosphere/protocol';
import type { ChatRequestOptions, ChatTransport, UIMessage, UIMessageChunk } from 'ai';
import { UiChunkMapper } from './ui-chunks.ts';

/** Where the transport remembers the run of each chat, so a reloaded page resumes it (`sessionStorage`-like). */
export interface RunStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

/** What a prompt sends: a string, or an object the endpoint reads as JSON (`{ prompt, metadata }`). */
export type PromptBuilder<UI_MESSAGE extends UIMessage> = (request: {
  readonly chatId: string;
  readonly messages: readonly UI_MESSAGE[];
  readonly trigger: 'submit-message' | 'regenerate-message';
  readonly body: object | undefined;
}) => string | { readonly prompt: string; readonly metadata?: Readonly<Record<string, unknown>> };

/** Options of {@link AtmosphereChatTransport}. */
export interface AtmosphereChatTransportOptions<UI_MESSAGE extends UIMessage = UIMessage> {
  /** The Atmosphere AI endpoint (`aiEndpoint({ path })`): absolute, or relative to the page (`/ai/chat`). */
  readonly url: string;
  /**
   * The rest of the Atmosphere request (transport, fallback, auth token, headers…). `closeOnUnload` defaults
   * to false here, so that a reload does not end the run it wants to resume.
   */
  readonly request?: Omit<AtmosphereRequest, 'url' | 'runId'>;
  /** The client to open the subscription with. Default: the default client of `@atmosphere/client`. */
  readonly atmosphere?: Atmosphere;
  /**
   * Where the run of each chat is remembered for `reconnectToStream` after a reload, with the connection's
   * durable-session token: a reloaded page presents it again, so the server knows it as the run's owner (it
   * may stop it and answer its approvals; another session may only watch). Default `globalThis.sessionStorage`
   * when there is one (a tab), else memory; `null` keeps both in memory only.
   */
  readonly storage?: RunStorage | null;
  /**
   * Builds the prompt from `useChat`'s request. Default: the text of the last user message, with metadata
   * `{ chatId, trigger }` (an endpoint may key its conversation memory on `chatId`).
   */
  readonly prompt?: PromptBuilder<UI_MESSAGE>;
  /** How long `reconnectToStream` waits for the first frame of a run it re-attaches to. Default 10 000 ms. */
  readonly resumeTimeoutMs?: number;
}

/** One run as this transport saw it: every frame, in order (what a replay or a continuation reads). */
interface Run {
  readonly frames: AiFrame[];
  readonly listeners: Set<() => void>;
  runId: string | undefined;
  sessionId: string | undefined;
  chatId: string;
  /** The stream reading it now: its mapper and how far it read. */
  mapper: UiChunkMapper;
  cursor: number;
  stopRequested: boolean;
  readonly pendingApprovals: Set<string>;
  /** Set when the connection failed for good: the run's streams end with this error. */
  failure: Error | undefined;
  /** `reconnectToStream` calls for this run so far (a newer one supersedes the stream of an older one). */
  resumes: number;
}

const STORAGE_PREFIX = 'atmosphere-chat-run:';
/** The key of the durable-session token of an endpoint URL in the storage. */
const SESSION_PREFIX = 'atmosphere-chat-session:';

function memoryStorage(): RunStorage {
  const map = new Map<string, string>();
  return {
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
  };
}

function defaultStorage(): RunStorage {
  try {
    const storage = (globalThis as { sessionStorage?: RunStorage }).sessionStorage;
    if (storage) return storage;
  } catch {
    // Storage refused (privacy mode, sandboxed frame): remember in memory.
  }
  return memoryStorage();
}

function textOf(message: UIMessage | undefined): string {
  if (!message) return '';
  return message.parts
    .map((part) => (part.type === 'text' ? part.text : ''))
    .join('')
    .trim();
}

/** The default prompt: the last user message's text, with the chat id and trigger as metadata. */
function defaultPrompt<UI_MESSAGE extends UIMessage>(
  request: Parameters<PromptBuilder<UI_MESSAGE>>[0],
): ReturnType<PromptBuilder<UI_MESSAGE>> {
  const lastUser = [...request.messages].reverse().find((message) => message.role === 'user');
  return { prompt: textOf(lastUser), metadata: { chatId: request.chatId, trigger: request.trigger } };
}

/** Approval answers in the last assistant message: parts `approval-responded` with their decision. */
function approvalResponses(messages: readonly UIMessage[]): { id: string; approved: boolean }[] {
  const last = messages.at(-1);
  if (!last || last.role !== 'assistant') return [];
  const answers: { id: string; approved: boolean }[] = [];
  for (const part of last.parts as readonly { state?: unknown; approval?: unknown }[]) {
    if (part.state !== 'approval-responded') continue;
    const approval = part.approval as { id?: unknown; approved?: unknown } | undefined;
    if (typeof approval?.id === 'string' && typeof approval.approved === 'boolean')
      answers.push({ id: approval.id, approved: approval.approved });
  }
  return answers;
}

/** How a replayed approval was decided, when frames after it already tell (the tool ran, or was refused). */
function decisionAfter(frames: readonly AiFrame[], index: number): { approved: boolean } | undefined {
  const asked = frames[index];
  if (!asked || asked.type !== 'event') return undefined;
  const toolCallId = (asked.data as { toolCallId?: unknown } | undefined)?.toolCallId;
  if (typeof toolCallId !== 'string') return undefined;
  for (let i = index + 1; i < frames.length; i++) {
    const frame = frames[i]!;
    if (frame.type !== 'event') continue;
    if ((frame.data as { toolCallId?: unknown } | undefined)?.toolCallId !== toolCallId) continue;
    if (frame.event === 'tool-start') return { approved: true };
    if (frame.event === 'tool-error') return { approved: false };
  }
  return undefined;
}

/**
 * A `ChatTransport` for the AI SDK's `useChat` (React, Vue, Svelte) that talks to an Atmosphere AI endpoint
 * over Atmosphere's transports — one WebSocket (or SSE / long-polling fallback) for the whole chat, with
 * reconnection and exact replay — instead of one HTTP request per message:
 *
 * - `sendMessages` sends the prompt and streams the run's AI frames as UI message chunks; a message whose
 *   last assistant part answers an approval (`addToolApprovalResponse`) sends the answer instead
 *   (`/__approval/<id>/approve|deny`) and streams the rest of the same run;
 * - `reconnectToStream` replays the chat's run from its start (`resumeStreamIsReplay`), then follows it live:
 *   after a reload the run id comes from `storage` and the server replays the frames; a cut connection is
 *   resumed by the client itself, frames deduplicated, so no text is lost or shown twice;
 * - aborting `sendMessages` (`useChat`'s `stop()`) sends the stop message: the server aborts the model call
 *   and ends the run `stopped`, the text so far standing. It does not close the connection.
 *
 * Browser-safe: it imports `@atmosphere/client` and types from `ai` only. `close()` closes the subscription.
 */
export class AtmosphereChatTransport<
  UI_MESSAGE extends UIMessage = UIMessage,
> implements ChatTransport<UI_MESSAGE> {
  /** A resumed stream starts from the run's first frame: `useChat` resets the message when it begins. */
  readonly resumeStreamIsReplay = true;
  readonly #options: AtmosphereChatTransportOptions<UI_MESSAGE>;
  readonly #storage: RunStorage;
  #handle: StreamingHandle | undefined;
  readonly #runs = new Map<string, Run>();
  /** The run whose first frame is awaited (a prompt just sent, or a re-attach). */
  #waiting: Run | undefined;
  #closed = false;

  constructor(options: AtmosphereChatTransportOptions<UI_MESSAGE>) {
    if (typeof options.url !== 'string' || options.url === '')
      throw new TypeError('AtmosphereChatTransport needs the `url` of an Atmosphere AI endpoint.');
    this.#options = options;
    this.#storage = options.storage === null ? memoryStorage() : (options.storage ?? defaultStorage());
  }

  /** The subscription's handle (opened by the first request). */
  get handle(): StreamingHandle | undefined {
    return this.#handle;
  }

  async sendMessages(
    options: {
      trigger: 'submit-message' | 'regenerate-message';
      chatId: string;
      messageId: string | undefined;
      messages: UI_MESSAGE[];
      abortSignal: AbortSignal | undefined;
    } & ChatRequestOptions,
  ): Promise<ReadableStream<UIMessageChunk>> {
    this.#checkOpen();
    const handle = this.#open(undefined);
    const answers = approvalResponses(options.messages);
    for (const answer of answers) {
      const run = [...this.#runs.values()].find((r) => r.pendingApprovals.has(answer.id));
      if (!run) continue;
      // Answer every approval of this run found in the message, then go on reading it where it paused.
      for (const each of answers) {
        if (!run.pendingApprovals.delete(each.id)) continue;
        handle.subscription.push(approvalMessage(each.id, each.approved ? 'approve' : 'deny'));
      }
      const head: UIMessageChunk[] = [{ type: 'start' }];
      for (const each of answers) head.push(...run.mapper.answered(each.id, each.approved));
      return this.#stream(run, head, options.abortSignal);
    }
    if (answers.length > 0) {
      // Answers to approvals no run waits for (answered already, expired, or from before a restart): sending the
      // user's message again would ask twice. Say so instead.
      return new ReadableStream<UIMessageChunk>({
        start(controller) {
          controller.enqueue({
            type: 'error',
            errorText:
              'This approval is no longer pending: it was answered already or it expired. Send the request again.',
          });
          controller.close();
        },
      });
    }
    const built = (this.#options.prompt ?? defaultPrompt)({
      chatId: options.chatId,
      messages: options.messages,
      trigger: options.trigger,
      body: options.body,
    });
    const prompt = typeof built === 'string' ? built : built.prompt;
    if (prompt.trim() === '') throw new TypeError('There is no user message to send (the prompt is empty).');
    const run = this.#newRun(options.chatId, undefined);
    this.#waiting = run;
    handle.send(typeof built === 'string' ? built : { prompt, metadata: built.metadata ?? {} });
    return this.#stream(run, run.mapper.start(), options.abortSignal);
  }

  async reconnectToStream(
    options: { chatId: string; abortSignal?: AbortSignal | undefined } & ChatRequestOptions,
  ): Promise<ReadableStream<UIMessageChunk> | null> {
    this.#checkOpen();
    const runId = this.#storage.getItem(STORAGE_PREFIX + options.chatId) ?? undefined;
    let run = [...this.#runs.values()].find(
      (r) => r.chatId === options.chatId && (runId === undefined || r.runId === runId),
    );
    if (!run) {
      if (runId === undefined || this.#handle !== undefined) return null;
      // A fresh page: open the subscription with the run id; the server replays the run from its start.
      run = this.#newRun(options.chatId, runId);
      this.#waiting = run;
      this.#open(runId);
      const first = await this.#firstFrame(run, options.abortSignal);
      if (first === undefined || (first.type === 'error' && first.code === 'UNKNOWN_RUN')) {
        this.#forget(run);
        return null;
      }
    }
    if (
      run.frames.length > 0 &&
      isTerminalFrame(run.frames.at(-1)!) &&
      run.mapper.ended &&
      run.cursor >= run.frames.length
    )
      return null;
    // A request useChat gave up before it got its stream (stopped, superseded) gets none, and stops nothing.
    if (options.abortSignal?.aborted) return null;
    run.mapper = new UiChunkMapper();
    run.cursor = 0;
    const resume = ++run.resumes;
    // useChat's stop() aborts the resumed stream: the run is stopped, as for sendMessages — unless the abort
    // only supersedes this stream by a newer reconnectToStream of the same run (useChat aborts the older
    // resume request right before it calls the transport again, in the same turn).
    return this.#stream(run, run.mapper.start(), options.abortSignal, () => run.resumes === resume);
  }

  /** Closes the subscription; streams still open end. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const run of this.#runs.values()) for (const listener of [...run.listeners]) listener();
    void this.#handle?.close();
  }

  #checkOpen(): void {
    if (this.#closed) throw new Error('This AtmosphereChatTransport is closed; create a new one.');
  }

  #open(runId: string | undefined): StreamingHandle {
    if (this.#handle) return this.#handle;
    // The session token of the page before a reload: presented again, it makes this page the owner of the
    // runs that page started (a refused one is replaced by the new session's token, below).
    const sessionKey = SESSION_PREFIX + this.#options.url;
    const kept = this.#storage.getItem(sessionKey);
    const keepsSession =
      this.#options.request?.session !== false && this.#options.request?.sessionToken === undefined;
    const request: AtmosphereRequest = {
      closeOnUnload: false,
      ...(keepsSession && kept !== null && SESSION_TOKEN_PATTERN.test(kept) ? { sessionToken: kept } : {}),
      ...this.#options.request,
      url: this.#options.url,
      ...(runId === undefined ? {} : { runId }),
    };
    const handle = subscribeStreaming(
      request,
      { onFrame: (frame) => this.#frame(frame) },
      { atmosphere: this.#options.atmosphere ?? defaultClient },
    );
    this.#handle = handle;
    if (keepsSession)
      handle.subscription.on('session', (session) => this.#storage.setItem(sessionKey, session.token));
    // A connection that gives up (reconnect attempts exhausted, refused) fails the answers still streaming, so
    // useChat reports it instead of waiting forever; the next request opens a new connection.
    const off = handle.subscription.on('state', (state) => {
      if (state !== 'error' && state !== 'closed') return;
      off();
      if (this.#handle === handle) this.#handle = undefined;
      if (this.#closed) return;
      const error = new Error(
        `The connection to ${this.#options.url} failed${state === 'error' ? ` (${handle.subscription.status().lastError?.message ?? 'no more reconnect attempts'})` : ''}; the answer was not received.`,
      );
      const runs = new Set([...this.#runs.values(), ...(this.#waiting ? [this.#waiting] : [])]);
      this.#waiting = undefined;
      for (const run of runs) {
        run.failure = error;
        for (const listener of [...run.listeners]) listener();
      }
    });
    return handle;
  }

  #newRun(chatId: string, runId: string | undefined): Run {
    const run: Run = {
      frames: [],
      listeners: new Set(),
      runId,
      sessionId: undefined,
      chatId,
      mapper: new UiChunkMapper(),
      cursor: 0,
      stopRequested: false,
      pendingApprovals: new Set(),
      failure: undefined,
      resumes: 0,
    };
    return run;
  }

  #frame(frame: AiFrame): void {
    let run = this.#runs.get(frame.sessionId);
    if (!run) {
      run = this.#waiting;
      if (!run) return;
      this.#waiting = undefined;
      run.sessionId = frame.sessionId;
      this.#runs.set(frame.sessionId, run);
    }
    run.frames.push(frame);
    if (frame.type === 'metadata' && frame.key === RUN_ID_METADATA_KEY && typeof frame.value === 'string') {
      run.runId = frame.value;
      this.#storage.setItem(STORAGE_PREFIX + run.chatId, frame.value);
      if (run.stopRequested) this.#handle?.subscription.push(stopMessage(frame.value));
    }
    if (frame.type === 'event' && frame.event === 'approval-required') {
      const id = (frame.data as { approvalId?: unknown } | undefined)?.approvalId;
      if (typeof id === 'string') run.pendingApprovals.add(id);
    }
    if (isTerminalFrame(frame)) {
      run.pendingApprovals.clear();
      if (run.runId !== undefined && this.#storage.getItem(STORAGE_PREFIX + run.chatId) === run.runId)
        this.#storage.removeItem(STORAGE_PREFIX + run.chatId);
      this.#trim(run);
    }
    for (const listener of [...run.listeners]) listener();
  }

  /** Keeps the runs of the last few prompts only (a long chat does not grow memory without bound). */
  #trim(current: Run): void {
    if (this.#runs.size <= 8) return;
    for (const [sessionId, run] of this.#runs) {
      if (this.#runs.size <= 8) break;
      if (run !== current && run.listeners.size === 0) this.#runs.delete(sessionId);
    }
  }

  #forget(run: Run): void {
    if (this.#waiting === run) this.#waiting = undefined;
    if (run.sessionId !== undefined) this.#runs.delete(run.sessionId);
    this.#storage.removeItem(STORAGE_PREFIX + run.chatId);
  }

  #firstFrame(run: Run, signal: AbortSignal | undefined): Promise<AiFrame | undefined> {
    const timeoutMs = this.#options.resumeTimeoutMs ?? 10_000;
    return new Promise((resolve) => {
      const done = (frame: AiFrame | undefined): void => {
        clearTimeout(timer);
        run.listeners.delete(listener);
        signal?.removeEventListener('abort', onAbort);
        resolve(frame);
      };
      const listener = (): void => done(run.frames[0]);
      const onAbort = (): void => done(undefined);
      const timer = setTimeout(() => done(undefined), timeoutMs);
      if (signal?.aborted) return done(undefined);
      signal?.addEventListener('abort', onAbort, { once: true });
      run.listeners.add(listener);
    });
  }

  /**
   * The run's UI chunks from its cursor on, live: `head` first, then each frame as it arrives, until the run
   * ends or pauses at an approval. Aborting `abortSignal` asks the server to stop the run.
   */
  #stream(
    run: Run,
    head: UIMessageChunk[],
    abortSignal: AbortSignal | undefined,
    current: () => boolean = () => true,
  ): ReadableStream<UIMessageChunk> {
    let listener: (() => void) | undefined;
    const stop = (): void => {
      if (run.mapper.ended || !current()) return;
      if (run.runId !== undefined) this.#handle?.subscription.push(stopMessage(run.runId));
      else run.stopRequested = true;
    };
    // Decided a turn later, when a superseding reconnectToStream has been called.
    const onAbort = (): void => void Promise.resolve().then(stop);
    const release = (): void => {
      if (listener) run.listeners.delete(listener);
      abortSignal?.removeEventListener('abort', onAbort);
    };
    return new ReadableStream<UIMessageChunk>({
      start: (controller) => {
        for (const chunk of head) controller.enqueue(chunk);
        const pump = (): void => {
          if (this.#closed) {
            release();
            controller.close();
            return;
          }
          if (run.failure && run.cursor >= run.frames.length && !run.mapper.ended) {
            release();
            controller.error(run.failure);
            return;
          }
          while (run.cursor < run.frames.length) {
            const index = run.cursor++;
            const frame = run.frames[index]!;
            const decision =
              frame.type === 'event' && frame.event === 'approval-required'
                ? decisionAfter(run.frames, index)
                : undefined;
            for (const chunk of run.mapper.frame(frame, decision)) controller.enqueue(chunk);
            if (run.mapper.ended || run.mapper.paused) {
              release();
              controller.close();
              return;
            }
          }
        };
        listener = pump;
        run.listeners.add(listener);
        if (abortSignal?.aborted) onAbort();
        else abortSignal?.addEventListener('abort', onAbort, { once: true });
        pump();
      },
      cancel: () => release(),
    });
  }
}
