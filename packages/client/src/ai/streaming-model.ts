import { AtmosphereClientError } from '../errors.ts';
import { atmosphere as defaultClient, type Atmosphere, type SharedSubscription } from '../core/atmosphere.ts';
import type { ConnectionState, ResetEvent } from '../core/events.ts';
import type { AtmosphereRequest } from '../core/request.ts';
import { type Model, Store } from '../models/store.ts';
import type { AiRole } from '@atmosphere/protocol';
import type { ApprovalRequest } from './approval.ts';
import { PaintTimer, type PaintTimingOptions } from './paint-timing.ts';
import {
  type ReceivedAiEvent,
  type SendOptions,
  type StreamingHandle,
  subscribeStreaming,
} from './streaming.ts';

/** Statistics of a finished session. */
export interface SessionStats {
  readonly totalTokens: number;
  readonly elapsedMs: number;
  /** `stopped` when the user stopped the answer. */
  readonly status: 'complete' | 'stopped' | 'error';
  readonly tokensPerSecond: number;
}

/** `routing.*` metadata, collected. */
export interface RoutingInfo {
  readonly model?: string;
  readonly cost?: number;
  readonly latency?: number;
  readonly [key: string]: unknown;
}

/** What `useStreaming` shows (the atmosphere.js 5 shape, plus approvals and connection state). */
export interface StreamingSnapshot {
  /** Every token of the current session, joined. */
  readonly fullText: string;
  readonly tokenCount: number;
  /** A prompt was sent, or tokens arrive, and the session has not completed. */
  readonly isStreaming: boolean;
  readonly progress: string | null;
  readonly metadata: Readonly<Record<string, unknown>>;
  readonly stats: SessionStats | null;
  readonly routing: RoutingInfo;
  /** The session's error (an `error` frame), or a connection error. */
  readonly error: string | null;
  /** `event` frames of the session, in order (the last 200). */
  readonly aiEvents: readonly ReceivedAiEvent[];
  /** Tool calls waiting for approval. */
  readonly approvals: readonly ApprovalRequest[];
  readonly sessionId: string | null;
  readonly connectionState: ConnectionState;
  readonly isReconnecting: boolean;
  /**
   * The last gap the server could not fill (a `reset`: its log no longer held what this client missed, or a
   * restart lost it), or null. Messages of that stream from `lastReset.from` on never arrived: refetch.
   */
  readonly lastReset: ResetEvent | null;
  /**
   * This connection's role in the current run (`viewer` may only watch; `steerer` may also steer and stop;
   * `approver` may also approve; `owner` may do all), so a UI can hide what it may not do; null before any.
   */
  readonly role: AiRole | null;
  /** The last refusal of something sent during the run (a stop, steer or approval): its code and message. */
  readonly refusal: { readonly code: string | null; readonly message: string } | null;
}

const INITIAL: StreamingSnapshot = {
  fullText: '',
  tokenCount: 0,
  isStreaming: false,
  progress: null,
  metadata: {},
  stats: null,
  routing: {},
  error: null,
  aiEvents: [],
  approvals: [],
  sessionId: null,
  connectionState: 'disconnected',
  isReconnecting: false,
  lastReset: null,
  role: null,
  refusal: null,
};

/** The session state a new session (or `reset()`) starts from. */
const SESSION_RESET: Partial<StreamingSnapshot> = {
  fullText: '',
  tokenCount: 0,
  progress: null,
  metadata: {},
  stats: null,
  routing: {},
  error: null,
  aiEvents: [],
  approvals: [],
  refusal: null,
};

/** Options of a {@link StreamingModel}. */
export interface StreamingModelOptions {
  request: AtmosphereRequest;
  atmosphere?: Atmosphere;
  /**
   * Reports, for a sample of the text frames, when this client received each one and when it was painted
   * (the animation frame after the state update), so the server measures token → screen
   * (`atmosphere_ai_token_to_paint_seconds`). Off by default; `true` takes the defaults.
   */
  paintTiming?: boolean | PaintTimingOptions;
}

/**
 * An AI stream seen as state, on a shared connection (for `useStreaming` and its Vue/Svelte forms). A
 * frame of a new session starts a fresh text; `send()` does too.
 */
export class StreamingModel implements Model<StreamingSnapshot> {
  readonly #store = new Store<StreamingSnapshot>(INITIAL);
  readonly getSnapshot = this.#store.getSnapshot;
  readonly subscribe = this.#store.subscribe;
  readonly #options: StreamingModelOptions;
  #shared: SharedSubscription | undefined;
  #handle: StreamingHandle | undefined;
  #offState: (() => void) | undefined;
  #startedAt: number | undefined;
  #paint: PaintTimer | undefined;

  constructor(options: StreamingModelOptions) {
    this.#options = options;
  }

  connect(): void {
    if (this.#shared) return;
    const shared = (this.#options.atmosphere ?? defaultClient).share(this.#options.request);
    this.#shared = shared;
    const store = this.#store;
    const paintTiming = this.#options.paintTiming;
    const paint = (this.#paint = paintTiming
      ? new PaintTimer(paintTiming, (text) => shared.subscription.push(text))
      : undefined);
    const session = (sessionId: string): void => {
      if (store.getSnapshot().sessionId !== sessionId) {
        this.#startedAt = Date.now();
        store.update({ ...SESSION_RESET, sessionId, isStreaming: true });
      }
    };
    const finish = (status: SessionStats['status'], patch: Partial<StreamingSnapshot>): void => {
      const elapsedMs = this.#startedAt === undefined ? 0 : Date.now() - this.#startedAt;
      const totalTokens = store.getSnapshot().tokenCount;
      const stats = {
        totalTokens,
        elapsedMs,
        status,
        tokensPerSecond: elapsedMs > 0 ? (totalTokens * 1000) / elapsedMs : 0,
      };
      store.update({ ...patch, stats, isStreaming: false, progress: null });
    };
    this.#handle = subscribeStreaming(shared.subscription, {
      onFrame: (frame) => session(frame.sessionId),
      onToken: (text, frame) => {
        const snapshot = store.getSnapshot();
        store.update({
          fullText: snapshot.fullText + text,
          tokenCount: snapshot.tokenCount + 1,
          isStreaming: true,
        });
        const runId = this.#handle?.runId;
        if (paint !== undefined && runId !== undefined) paint.received(runId, frame.seq);
      },
      onProgress: (progress) => store.update({ progress }),
      onMetadata: (key, value) => {
        const snapshot = store.getSnapshot();
        const metadata = { ...snapshot.metadata, [key]: value };
        store.update(
          key.startsWith('routing.')
            ? { metadata, routing: { ...snapshot.routing, [key.slice(8)]: value } }
            : { metadata },
        );
      },
      onEvent: (event) => {
        const events = store.getSnapshot().aiEvents;
        store.update({ aiEvents: events.length >= 200 ? [...events.slice(1), event] : [...events, event] });
      },
      onApprovalRequired: (approval) => {
        const settle = (): void =>
          store.update({ approvals: store.getSnapshot().approvals.filter((a) => a !== tracked) });
        const tracked: ApprovalRequest = {
          ...approval,
          approve: (args) => {
            settle();
            approval.approve(args);
          },
          deny: () => {
            settle();
            approval.deny();
          },
        };
        store.update({ approvals: [...store.getSnapshot().approvals, tracked] });
      },
      onApprovalAnswered: (approvalId) => {
        const approvals = store.getSnapshot().approvals;
        if (approvals.some((a) => a.approvalId === approvalId))
          store.update({ approvals: approvals.filter((a) => a.approvalId !== approvalId) });
      },
      onComplete: (_summary, frame) =>
        finish(frame.type === 'complete' && frame.reason === 'stopped' ? 'stopped' : 'complete', {}),
      onError: (message) => finish('error', { error: message }),
      onRefused: (code, message) => store.update({ refusal: { code: code ?? null, message } }),
      onRole: (role) => store.update({ role }),
      onConnectionError: (error) => {
        if (error.code === 'RECONNECT_EXHAUSTED' || store.getSnapshot().isStreaming)
          store.update({ error: error.message });
      },
    });
    const subscription = shared.subscription;
    const onState = (state: ConnectionState): void =>
      store.update({ connectionState: state, isReconnecting: state === 'reconnecting' });
    const offState = subscription.on('state', onState);
    const offReset = subscription.on('reset', (lastReset) => store.update({ lastReset }));
    this.#offState = () => {
      offState();
      offReset();
    };
    onState(subscription.state);
  }

  disconnect(): void {
    if (!this.#shared) return;
    this.#offState?.();
    this.#paint?.stop();
    this.#paint = undefined;
    void this.#handle?.close();
    this.#shared.release();
    this.#shared = undefined;
    this.#handle = undefined;
    this.#store.update({ connectionState: 'disconnected', isReconnecting: false, isStreaming: false });
  }

  /** Sends a prompt and starts a fresh text. Throws `CLOSED` when not connected. */
  send(prompt: string | object, options?: SendOptions): void {
    const handle = this.#requireHandle();
    this.#startedAt = Date.now();
    this.#store.update({ ...SESSION_RESET, sessionId: null, isStreaming: true });
    handle.send(prompt, options);
  }

  approve(approvalId: string, editedArguments?: Readonly<Record<string, unknown>>): void {
    this.#requireHandle().approve(approvalId, editedArguments);
    this.#store.update({
      approvals: this.getSnapshot().approvals.filter((a) => a.approvalId !== approvalId),
    });
  }

  deny(approvalId: string): void {
    this.#requireHandle().deny(approvalId);
    this.#store.update({
      approvals: this.getSnapshot().approvals.filter((a) => a.approvalId !== approvalId),
    });
  }

  /**
   * Stops the answer being streamed, on the server: the model call is aborted and the text so far stands
   * (`stats.status` becomes `stopped` when the server confirms). Returns false when no answer is running.
   */
  stop(): boolean {
    return this.#handle?.stop() ?? false;
  }

  /**
   * Sends guidance to the answer being streamed (added at its next step boundary; acknowledged by `steer`
   * events in `aiEvents`). Returns its id, or undefined when no answer is running.
   */
  steer(text: string): string | undefined {
    return this.#handle?.steer(text);
  }

  /** Clears the session state (not the connection). */
  reset(): void {
    this.#store.update({ ...SESSION_RESET, sessionId: null, isStreaming: false });
  }

  #requireHandle(): StreamingHandle {
    if (!this.#handle)
      throw new AtmosphereClientError(
        'CLOSED',
        'Not connected: call connect() first (the bindings do it on mount).',
      );
    return this.#handle;
  }
}
