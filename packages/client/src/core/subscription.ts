import { parseSessionFrame, SessionKeeper } from './session-keeper.ts';
import {
  AtmosphereHeaders,
  type ClientTransportName,
  CloseCodes,
  type Handshake,
  PADDING_CHAR,
  parsePositionedBytes,
  parsePositionedText,
  type StreamCursor,
  TRACKING_ID_PATTERN,
} from '@atmosphere/protocol';
import { AtmosphereClientError } from '../errors.ts';
import type { HeaderReader } from '../transports/transport.ts';
import { Attempt, type Round } from './attempt.ts';
import { reconnectDelay } from './backoff.ts';
import { Emitter } from './emitter.ts';
import { Keepalive } from './keepalive.ts';
import { whenConnected } from './ready.ts';
import {
  AtmosphereMessage,
  type ConnectionState,
  type ConnectionStatus,
  type ResetEvent,
  type SubscriptionEvents,
  type SubscriptionHandlers,
} from './events.ts';
import { sendBeacon, sendCloseRequest, watchPage } from './page-lifecycle.ts';
import { closeUrl, type ProtocolState, protocolUrl, type ResolvedRequest } from './request.ts';
import { encode, postChannel, type PushMessage, Sender, type SendChannel, socketChannel } from './sender.ts';

export type { PushMessage };

/** A connection that lived this long, or delivered a message, was healthy: the backoff starts over after it. */
const STABLE_AFTER_MS = 5_000;

/**
 * One logical connection to an Atmosphere endpoint, across transports and reconnections. It opens on
 * creation (see `subscribe()`), falls back along the transport chain when a transport cannot open,
 * reconnects with exponential backoff and jitter keeping its tracking id, and reports how many messages
 * it received so the server resends exactly what a cut lost. Pushes made while disconnected wait in an
 * offline queue and go out, in order, once connected.
 *
 * Ownership: whoever created the subscription closes it (`close()`, or `await using`).
 */
export class Subscription {
  /** The request, defaults applied. */
  readonly request: ResolvedRequest;
  readonly #emitter = new Emitter<SubscriptionEvents>();
  readonly #sender: Sender;
  readonly #unwatchPage: () => void;
  #state: ConnectionState = 'connecting';
  #trackingId = '0';
  #received = 0;
  #paddingChar = PADDING_CHAR;
  #clientHeartbeatMs = 0;
  readonly #session: SessionKeeper;
  #runId: string | undefined;
  #lastSeq: number | undefined;
  /** The last position received of each stream (what is presented on reconnect), most recent last. */
  readonly #cursors = new Map<string, StreamCursor>();
  #lastReset: ResetEvent | undefined;
  #transport: ClientTransportName;
  #attempt: Attempt | undefined;
  #round: Round | undefined;
  #failures = 0;
  #everOpened = false;
  #pageHidden = false;
  #reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #keepalive = new Keepalive();
  #lastDataAt: number | undefined;
  #connectedAt: number | undefined;
  #lastError: AtmosphereClientError | undefined;
  readonly #blocked = new Set<ClientTransportName>();
  #closing: Promise<void> | undefined;

  /** @internal Use `subscribe()` or `Atmosphere#subscribe()`. */
  constructor(request: ResolvedRequest, handlers: SubscriptionHandlers = {}) {
    this.request = request;
    this.#transport = request.transports[0]!;
    this.#session = new SessionKeeper(request.url, request.session, request.sessionToken);
    this.#runId = request.runId ?? this.#session.runId;
    this.#sender = new Sender(request.maxQueuedMessages, Math.max(100, request.reconnectInterval), (error) =>
      this.#error(error),
    );
    for (const name of Object.keys(handlers) as (keyof SubscriptionEvents)[]) {
      const handler = handlers[name];
      if (typeof handler === 'function') this.#emitter.on(name, handler as never);
    }
    this.#unwatchPage = watchPage({
      hide: () => this.#pageHide(request.closeOnUnload),
      show: () => this.#pageShow(),
      online: () => this.#online(),
    });
    // Connect on the next microtask: listeners added right after subscribe() see every event.
    queueMicrotask(() => {
      if (this.#state === 'connecting') this.#connect();
    });
  }

  /** The current state. */
  get state(): ConnectionState {
    return this.#state;
  }

  /** The tracking id the server assigned (`0` until then). */
  get trackingId(): string {
    return this.#trackingId;
  }

  /** The transport of the current (or last) connection. */
  get transport(): ClientTransportName {
    return this.#transport;
  }

  /** Messages received for the current tracking id. */
  get received(): number {
    return this.#received;
  }

  /** A snapshot of the connection, for status displays. */
  status(): ConnectionStatus {
    return {
      state: this.#state,
      transport: this.#transport,
      trackingId: this.#trackingId,
      received: this.#received,
      queued: this.#sender.queue.size,
      reconnectAttempts: this.#failures,
      connectedAt: this.#connectedAt,
      lastDataAt: this.#lastDataAt,
      blockedTransports: [...this.#blocked],
      lastError: this.#lastError,
      lastReset: this.#lastReset,
      cursors: [...this.#cursors.values()],
    };
  }

  /** Adds a listener; returns the function that removes it. */
  on<K extends keyof SubscriptionEvents>(
    event: K,
    listener: (...args: SubscriptionEvents[K]) => void,
  ): () => void {
    return this.#emitter.on(event, listener);
  }

  /** Removes a listener added with `on` (or given to `subscribe`). */
  off<K extends keyof SubscriptionEvents>(
    event: K,
    listener: (...args: SubscriptionEvents[K]) => void,
  ): void {
    this.#emitter.off(event, listener);
  }

  /**
   * Sends a message: a string as is, bytes as a binary message, anything else as JSON. While not
   * connected it waits in the offline queue (bounded by `maxQueuedMessages`). Throws `CLOSED` after
   * `close()`. Delivery failures are reported as `error` events (`SEND_FAILED`).
   */
  push(message: PushMessage): void {
    if (this.#state === 'closed' || this.#state === 'error') {
      throw new AtmosphereClientError(
        'CLOSED',
        `Cannot push: the subscription to ${this.request.url} is ${this.#state}.`,
      );
    }
    this.#sender.push(encode(message));
  }

  /**
   * Sets (or clears) the AI run to re-attach to on the next connection (`X-Atmosphere-Run-Id`); with
   * `session: 'sessionStorage' | 'localStorage'` it is kept there too, so a reloaded page re-attaches.
   */
  setRunId(runId: string | undefined): void {
    this.#runId = runId;
    this.#lastSeq = undefined;
    this.#session.runId = runId;
  }

  /**
   * @internal Whether this client answered the approval `id`, or (with `remember`) records that it did; kept
   * beside a session kept in storage, so that a reloaded page replaying an answer does not ask again.
   */
  answeredApproval(id: string, remember = false): boolean {
    return this.#session.answered(id, remember);
  }

  /** The last AI frame `seq` seen of the run being followed (`X-Atmosphere-Last-Seq` on the next connection). */
  setLastSeq(seq: number): void {
    if (this.#runId !== undefined) this.#lastSeq = seq;
  }

  /**
   * Resolves once connected (at once if already). Rejects with `CLOSED` when the subscription closes or
   * gives up first, and with `ABORTED` when `signal` aborts.
   */
  ready(options: { signal?: AbortSignal } = {}): Promise<void> {
    return whenConnected(this, this.#emitter, () => this.#lastError, options.signal);
  }

  /**
   * Disconnects without leaving: no close request (a WebSocket closes with 4000, "coming back"), so the server
   * keeps the session for its grace period and `resume()` gets exactly what was missed.
   */
  suspend(): void {
    if (this.#state === 'closed' || this.#state === 'error' || this.#state === 'suspended') return;
    this.#halt('suspended', CloseCodes.comingBack);
  }

  /** Reconnects after `suspend()`, with the same tracking id. No-op in any other state. */
  resume(): void {
    if (this.#state !== 'suspended') return;
    this.#failures = 0;
    this.#setState(this.#everOpened ? 'reconnecting' : 'connecting');
    this.#connect();
  }

  /**
   * Leaves for good: closes the connection and sends the explicit close request (PROTOCOL.md §5), so the
   * server fires its disconnect hooks at once. Queued messages are dropped. Resolves when the close
   * request was answered (or failed, or `signal` aborted); idempotent.
   */
  close(options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.#closing) return this.#closing;
    const attempt = this.#attempt;
    const websocketOpen = attempt?.open === true && attempt.transport === 'websocket';
    const trackingId = this.#trackingId;
    this.#halt('closed', websocketOpen ? 1000 : undefined);
    this.#unwatchPage();
    this.#sender.dispose();
    this.#emitter.clear();
    // A WebSocket closed with 1000 already told the server; otherwise the close request does.
    if (websocketOpen || trackingId === '0') {
      this.#closing = Promise.resolve();
      return this.#closing;
    }
    this.#closing = sendCloseRequest(
      closeUrl(this.request, trackingId),
      this.request.withCredentials,
      options.signal,
    );
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  // ------------------------------------------------------------------------------------------ connecting

  #protocolState(): ProtocolState {
    return {
      trackingId: this.#trackingId,
      received: this.#received,
      sessionToken: this.#session.parameter,
      runId: this.#runId,
      lastSeq: this.#lastSeq,
      cursors: this.#cursors.size === 0 ? undefined : [...this.#cursors.values()],
    };
  }

  #connect(): void {
    this.#reconnectTimer = undefined;
    let candidates = this.request.transports.filter((name) => !this.#blocked.has(name));
    if (candidates.length === 0) {
      this.#blocked.clear();
      candidates = [...this.request.transports];
    }
    this.#round = { candidates, index: 0, failed: [] };
    this.#tryCandidate();
  }

  #tryCandidate(): void {
    const round = this.#round;
    if (!round) return;
    const request = this.request;
    const attempt = new Attempt(
      round.candidates[round.index]!,
      request,
      this.#trackingId === '0',
      this.#paddingChar,
    );
    this.#attempt = attempt;
    attempt.start(
      (name, queryHeaders) => protocolUrl(request, name, this.#protocolState(), 'connect', queryHeaders),
      {
        current: () => this.#attempt === attempt,
        data: () => {
          this.#lastDataAt = Date.now();
        },
        headers: (headers) => this.#readHeaders(headers),
        handshake: (handshake) => this.#onHandshake(attempt, handshake),
        message: (body) => this.#deliver(attempt, body),
        opened: () => this.#opened(attempt),
        failed: (error) => {
          if (attempt.open) this.#lost(attempt, error);
          else this.#attemptFailed(attempt, error);
        },
      },
    );
  }

  #readHeaders(headers: HeaderReader): void {
    const token = headers.get(AtmosphereHeaders.sessionToken);
    if (token) this.#session.set(token);
    if (this.#trackingId === '0' && !this.request.enableProtocol) {
      const id = headers.get(AtmosphereHeaders.trackingId);
      if (id && TRACKING_ID_PATTERN.test(id)) this.#trackingId = id;
    }
  }

  #onHandshake(attempt: Attempt, handshake: Handshake): void {
    if (this.#attempt !== attempt) return;
    if (handshake.trackingId !== this.#trackingId) {
      // A new identity: the server counts from zero for it.
      this.#trackingId = handshake.trackingId;
      this.#received = 0;
    }
    this.#paddingChar = handshake.paddingChar;
    this.#clientHeartbeatMs = handshake.heartbeatMs;
    this.#opened(attempt);
  }

  #opened(attempt: Attempt): void {
    if (attempt.open || this.#attempt !== attempt) return;
    attempt.markOpen();
    // The server answered this transport after others failed in the same round: those do not work here.
    for (const failed of this.#round?.failed ?? []) this.#blocked.add(failed);
    this.#round = undefined;
    this.#transport = attempt.transport;
    this.#connectedAt = attempt.openedAt;
    const reconnected = this.#everOpened;
    this.#everOpened = true;
    this.#setState('connected');
    this.#startKeepalive(attempt);
    this.#sender.setChannel(this.#channel(attempt));
    const event = { transport: attempt.transport, trackingId: this.#trackingId, reconnected };
    this.#emitter.emit(reconnected ? 'reopen' : 'open', event);
  }

  #channel(attempt: Attempt): SendChannel {
    return attempt.transport === 'websocket'
      ? socketChannel(() => (this.#attempt === attempt ? attempt.connection : undefined))
      : postChannel(this.request, () =>
          protocolUrl(this.request, attempt.transport, this.#protocolState(), 'post', false),
        );
  }

  #deliver(attempt: Attempt, body: string | ArrayBuffer): void {
    if (this.#attempt !== attempt) return;
    attempt.delivered++;
    const session = parseSessionFrame(body);
    if (session !== undefined) {
      // Like the handshake, the session frame is outside the message count and not the application's.
      this.#session.set(session.token);
      this.#emitter.emit('session', session);
      return;
    }
    const seq = ++this.#received;
    if (!this.request.positions) {
      this.#emitter.emit('message', new AtmosphereMessage(body, attempt.transport, this.#trackingId, seq));
      return;
    }
    let cursor: StreamCursor | undefined;
    if (typeof body === 'string') {
      const frame = parsePositionedText(body);
      if (frame === undefined) return this.#unreadable(body);
      if (frame.kind === 'reset') {
        // What the server could not send is gone: the stream starts over from what follows.
        this.#cursors.delete(frame.reset.stream);
        const event: ResetEvent = {
          stream: frame.reset.stream,
          from: frame.reset.from,
          resumeAt: frame.reset.resumeAt,
          at: Date.now(),
        };
        this.#lastReset = event;
        this.#emitter.emit('reset', event);
        return;
      }
      body = frame.body;
      cursor = frame.cursor;
    } else {
      const frame = parsePositionedBytes(new Uint8Array(body));
      if (frame === undefined) return this.#unreadable('(binary)');
      if (frame.cursor !== undefined) {
        cursor = frame.cursor;
        body = frame.body.slice().buffer;
      }
    }
    if (cursor !== undefined) {
      const known = this.#cursors.get(cursor.stream);
      // A position already had (a replay overlapping what arrived): counted, never shown twice.
      if (known !== undefined && known.epoch === cursor.epoch && cursor.seq <= known.seq) return;
      this.#cursors.delete(cursor.stream);
      this.#cursors.set(cursor.stream, cursor);
    }
    this.#emitter.emit(
      'message',
      new AtmosphereMessage(body, attempt.transport, this.#trackingId, seq, cursor),
    );
  }

  #unreadable(body: string): void {
    this.#error(
      new AtmosphereClientError(
        'PROTOCOL_ERROR',
        `A positioned frame could not be read: ${JSON.stringify(body.slice(0, 40))}.`,
      ),
    );
  }

  // ------------------------------------------------------------------------------------------- failures

  #attemptFailed(attempt: Attempt, error: AtmosphereClientError): void {
    if (this.#attempt !== attempt) return;
    attempt.dispose();
    this.#attempt = undefined;
    this.#lastError = error;
    const round = this.#round;
    if (round) {
      round.failed.push(attempt.transport);
      round.index++;
      const next = round.candidates[round.index];
      if (next !== undefined) {
        this.#emitter.emit('transportFailure', {
          transport: attempt.transport,
          next,
          reason: error.message,
          error,
        });
        this.#tryCandidate();
        return;
      }
      this.#round = undefined;
    }
    this.#error(error);
    this.#scheduleReconnect(error);
  }

  #lost(attempt: Attempt, error: AtmosphereClientError): void {
    if (this.#attempt !== attempt) return;
    const corrupt = error.code === 'PROTOCOL_ERROR' || error.code === 'MESSAGE_TOO_LARGE';
    const healthy = !corrupt && (attempt.delivered > 0 || Date.now() - attempt.openedAt >= STABLE_AFTER_MS);
    attempt.dispose();
    this.#attempt = undefined;
    this.#lastError = error;
    this.#keepalive.stop();
    this.#sender.setChannel(undefined);
    this.#connectedAt = undefined;
    this.#emitter.emit('close', { transport: attempt.transport, reason: 'lost', error });
    if (error.code !== 'CONNECTION_LOST') this.#error(error);
    if (healthy) this.#failures = 0;
    this.#scheduleReconnect(error);
  }

  #scheduleReconnect(error: AtmosphereClientError | undefined): void {
    if (this.#state === 'closed' || this.#state === 'suspended' || this.#state === 'error') return;
    const request = this.request;
    if (!request.reconnect || this.#failures >= request.maxReconnectOnClose) {
      const attempts = this.#failures;
      this.#halt(request.reconnect ? 'error' : this.#everOpened ? 'closed' : 'error');
      this.#sender.dispose();
      if (request.reconnect) {
        this.#emitter.emit('failureToReconnect', { attempts, error });
        this.#error(
          new AtmosphereClientError(
            'RECONNECT_EXHAUSTED',
            `Gave up reconnecting to ${request.url} after ${attempts} attempts (option \`maxReconnectOnClose\`).`,
            { cause: error },
          ),
        );
      }
      return;
    }
    const delayMs = reconnectDelay(this.#failures, request.reconnectInterval, request.maxReconnectInterval);
    this.#failures++;
    this.#setState('reconnecting');
    this.#emitter.emit('reconnect', { attempt: this.#failures, delayMs, error });
    if (this.#state !== 'reconnecting') return; // a listener closed or suspended it
    this.#reconnectTimer = setTimeout(() => this.#connect(), delayMs);
  }

  #error(error: AtmosphereClientError): void {
    this.#lastError = error;
    this.#emitter.emit('error', error);
  }

  // -------------------------------------------------------------------------------------------- timers

  #startKeepalive(attempt: Attempt): void {
    this.#keepalive.start(
      {
        sendHeartbeat: () => this.#sendHeartbeat(attempt),
        lastDataAt: () => this.#lastDataAt ?? 0,
        timedOut: (timeoutMs) => {
          if (this.#attempt !== attempt) return;
          this.#emitter.emit('clientTimeout', { transport: attempt.transport, timeoutMs });
          if (this.#attempt !== attempt) return;
          this.#lost(
            attempt,
            new AtmosphereClientError(
              'CONNECTION_LOST',
              `No data for ${timeoutMs} ms (option \`timeout\`); reconnecting.`,
            ),
          );
        },
      },
      this.#clientHeartbeatMs,
      this.request.timeout,
    );
  }

  #sendHeartbeat(attempt: Attempt): void {
    if (this.#attempt === attempt && attempt.open) this.#sender.sendNow(this.#paddingChar);
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  /** Stops every activity and moves to a resting state; reports `close` when a connection was open. */
  #halt(state: 'closed' | 'suspended' | 'error', code?: number): void {
    if (this.#reconnectTimer !== undefined) clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = undefined;
    this.#round = undefined;
    this.#keepalive.stop();
    this.#sender.setChannel(undefined);
    const attempt = this.#attempt;
    this.#attempt = undefined;
    this.#connectedAt = undefined;
    attempt?.dispose(code);
    this.#setState(state);
    if (attempt?.open && state !== 'error') {
      this.#emitter.emit('close', { transport: attempt.transport, reason: state, error: undefined });
    }
  }

  #setState(state: ConnectionState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#emitter.emit('state', state);
  }

  /**
   * The page is unloaded (or frozen). With `closeOnUnload` the client leaves for good (the close request);
   * without, it says it is coming back (a reload, the back/forward cache): a WebSocket closes with 4000 before
   * the browser would close it with 1001, so the server keeps the session and a running answer.
   */
  #pageHide(leave: boolean): void {
    if (this.#state === 'closed' || this.#state === 'error' || this.#state === 'suspended') return;
    if (leave && this.#trackingId !== '0')
      sendBeacon(closeUrl(this.request, this.#trackingId), this.request.withCredentials);
    this.#pageHidden = true;
    this.#halt('suspended', leave ? undefined : CloseCodes.comingBack);
  }

  #pageShow(): void {
    if (!this.#pageHidden) return;
    this.#pageHidden = false;
    this.resume();
  }

  #online(): void {
    if (this.#state !== 'reconnecting' || this.#reconnectTimer === undefined) return;
    clearTimeout(this.#reconnectTimer);
    this.#connect();
  }
}
