import type { Atmosphere } from '../core/atmosphere.ts';
import type { ConnectionState, ResetEvent } from '../core/events.ts';
import type { AtmosphereRequest } from '../core/request.ts';
import { type Model, Store } from '../models/store.ts';
import type { AiRole, PromptAttachment } from '@atmosphere/protocol';
import type { ApprovalRequest } from './approval.ts';
import type { SendOptions } from './streaming.ts';
import type { PaintTimingOptions } from './paint-timing.ts';
import { StreamingModel, type StreamingSnapshot } from './streaming-model.ts';

/** Who wrote a chat message. */
export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';
/** Where a chat message is: sent and waiting, streaming in, done, or failed. */
export type ChatEntryStatus = 'submitted' | 'streaming' | 'complete' | 'stopped' | 'error';

/** One message of a chat. */
export interface ChatEntry {
  readonly id: string;
  readonly role: ChatRole;
  readonly content: string;
  readonly status?: ChatEntryStatus;
  /** On a user message: the images sent with it (`append(text, { attachments })`), to show beside it. */
  readonly attachments?: readonly PromptAttachment[];
}

/** What `useChat` shows. */
export interface ChatSnapshot {
  readonly messages: readonly ChatEntry[];
  /** The text being typed (for `handleSubmit`). */
  readonly input: string;
  /** An answer is streaming. */
  readonly isLoading: boolean;
  readonly error: string | null;
  readonly progress: string | null;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly approvals: readonly ApprovalRequest[];
  readonly connectionState: ConnectionState;
  readonly isReconnecting: boolean;
  /**
   * The last gap the server could not fill (a `reset`: its log no longer held what this client missed, or a
   * restart lost it), or null. Messages of that stream from `lastReset.from` on never arrived: refetch.
   */
  readonly lastReset: ResetEvent | null;
  /** This connection's role in the current answer (see `StreamingSnapshot.role`); null before any. */
  readonly role: AiRole | null;
  /** The last refusal of a stop, steer or approval sent during the answer. */
  readonly refusal: StreamingSnapshot['refusal'];
}

/** Options of a {@link ChatModel}. */
export interface ChatModelOptions {
  request: AtmosphereRequest;
  initialMessages?: readonly ChatEntry[];
  sendOptions?: SendOptions;
  generateId?: () => string;
  atmosphere?: Atmosphere;
  /** Paint timing of the answers' text frames (see `StreamingModelOptions.paintTiming`). Off by default. */
  paintTiming?: boolean | PaintTimingOptions;
}

let counter = 0;
const defaultId = (): string => `chat-${Date.now().toString(36)}-${(counter++).toString(36)}`;

/**
 * A chat over an AI stream (for `useChat`): user messages and the assistant's answers, the answer
 * growing token by token. Prompts are sent as plain text.
 */
export class ChatModel implements Model<ChatSnapshot> {
  readonly #streaming: StreamingModel;
  readonly #options: ChatModelOptions;
  readonly #store: Store<ChatSnapshot>;
  readonly getSnapshot: () => ChatSnapshot;
  readonly subscribe: (listener: () => void) => () => void;
  #assistantId: string | undefined;
  #offStreaming: (() => void) | undefined;

  constructor(options: ChatModelOptions) {
    this.#options = options;
    this.#streaming = new StreamingModel({
      request: options.request,
      ...(options.atmosphere ? { atmosphere: options.atmosphere } : {}),
      ...(options.paintTiming ? { paintTiming: options.paintTiming } : {}),
    });
    this.#store = new Store<ChatSnapshot>({
      messages: options.initialMessages ?? [],
      input: '',
      isLoading: false,
      error: null,
      progress: null,
      metadata: {},
      approvals: [],
      connectionState: 'disconnected',
      isReconnecting: false,
      lastReset: null,
      role: null,
      refusal: null,
    });
    this.getSnapshot = this.#store.getSnapshot;
    this.subscribe = this.#store.subscribe;
  }

  connect(): void {
    if (this.#offStreaming) return;
    this.#streaming.connect();
    this.#offStreaming = this.#streaming.subscribe(() => this.#sync(this.#streaming.getSnapshot()));
    this.#sync(this.#streaming.getSnapshot());
  }

  disconnect(): void {
    this.#offStreaming?.();
    this.#offStreaming = undefined;
    this.#streaming.disconnect();
  }

  setInput(input: string): void {
    this.#store.update({ input });
  }

  /** Adds a user message and an empty assistant answer, and sends the prompt (with its images, if any). */
  append(content: string, options?: SendOptions): void {
    const generateId = this.#options.generateId ?? defaultId;
    const attachments = options?.attachments;
    const user: ChatEntry = {
      id: generateId(),
      role: 'user',
      content,
      status: 'complete',
      ...(attachments?.length ? { attachments } : {}),
    };
    const assistant: ChatEntry = { id: generateId(), role: 'assistant', content: '', status: 'submitted' };
    this.#assistantId = assistant.id;
    this.#store.update({ messages: [...this.getSnapshot().messages, user, assistant], error: null });
    this.#streaming.send(content, options ?? this.#options.sendOptions);
  }

  /** Sends the input (trimmed) as a user message and clears it; `event.preventDefault()` is called. */
  handleSubmit(event?: { preventDefault(): void }): void {
    event?.preventDefault();
    const prompt = this.getSnapshot().input.trim();
    if (!prompt) return;
    this.#store.update({ input: '' });
    this.append(prompt);
  }

  /**
   * Stops the current answer on the server (the model call is aborted; the text so far stands and the
   * message ends `stopped`). Before the server has named the run, only the display stops.
   */
  stop(): void {
    if (!this.#streaming.stop()) this.#finishAssistant('stopped');
  }

  /**
   * Sends guidance to the current answer: added at its next step boundary (between tool rounds, or one more
   * model call); acknowledged by `steer` events. Returns its id, or undefined when no answer is running.
   */
  steer(text: string): string | undefined {
    return this.#streaming.steer(text);
  }

  /** Back to the initial messages. */
  reset(): void {
    this.#assistantId = undefined;
    this.#streaming.reset();
    this.#store.update({ messages: this.#options.initialMessages ?? [], error: null, input: '' });
  }

  #sync(streaming: StreamingSnapshot): void {
    const patch: { -readonly [K in keyof ChatSnapshot]?: ChatSnapshot[K] } = {
      isLoading: streaming.isStreaming,
      error: streaming.error,
      progress: streaming.progress,
      metadata: streaming.metadata,
      approvals: streaming.approvals,
      connectionState: streaming.connectionState,
      isReconnecting: streaming.isReconnecting,
      lastReset: streaming.lastReset,
      role: streaming.role,
      refusal: streaming.refusal,
    };
    const id = this.#assistantId;
    if (id !== undefined) {
      const done = !streaming.isStreaming && (streaming.stats !== null || streaming.error !== null);
      const status: ChatEntryStatus = done
        ? streaming.error
          ? 'error'
          : streaming.stats?.status === 'stopped'
            ? 'stopped'
            : 'complete'
        : streaming.fullText
          ? 'streaming'
          : 'submitted';
      patch.messages = this.getSnapshot().messages.map((message) =>
        message.id === id ? { ...message, content: streaming.fullText, status } : message,
      );
      if (done) this.#assistantId = undefined;
    }
    this.#store.update(patch);
  }

  #finishAssistant(status: ChatEntryStatus): void {
    const id = this.#assistantId;
    if (id === undefined) return;
    this.#assistantId = undefined;
    this.#store.update({
      isLoading: false,
      messages: this.getSnapshot().messages.map((message) =>
        message.id === id ? { ...message, status } : message,
      ),
    });
  }
}
