import { AtmosphereClientError } from '../errors.ts';
import { atmosphere as defaultClient, type Atmosphere, type SharedSubscription } from '../core/atmosphere.ts';
import type { AtmosphereMessage, ConnectionState, ResetEvent } from '../core/events.ts';
import type { AtmosphereRequest } from '../core/request.ts';
import type { PushMessage, Subscription } from '../core/subscription.ts';
import { type Model, Store } from './store.ts';

/** What `useAtmosphere` shows. */
export interface ConnectionSnapshot<T> {
  readonly state: ConnectionState;
  /** The last message, decoded. */
  readonly data: T | null;
  /** The last `keep` messages, oldest first. */
  readonly messages: readonly T[];
  readonly error: Error | null;
  /** The tracking id, once assigned. */
  readonly trackingId: string | null;
  /**
   * The last gap the server could not fill (a `reset`: its log no longer held what this client missed, or a
   * restart lost it), or null. Messages of that stream from `lastReset.from` on never arrived: refetch.
   */
  readonly lastReset: ResetEvent | null;
}

/** Options of a {@link ConnectionModel}. */
export interface ConnectionModelOptions<T> {
  request: AtmosphereRequest;
  /** How a message becomes `data`. Default: its text. */
  decode?: (message: AtmosphereMessage) => T;
  /** How many messages `messages` keeps. Default 100. */
  keep?: number;
  atmosphere?: Atmosphere;
}

/**
 * A shared connection seen as state (for `useAtmosphere` and its Vue/Svelte forms): connection state,
 * last message, recent messages, last error, and `push`.
 */
export class ConnectionModel<T = string> implements Model<ConnectionSnapshot<T>> {
  readonly #store = new Store<ConnectionSnapshot<T>>({
    state: 'disconnected',
    data: null,
    messages: [],
    error: null,
    trackingId: null,
    lastReset: null,
  });
  readonly getSnapshot = this.#store.getSnapshot;
  readonly subscribe = this.#store.subscribe;
  readonly #options: ConnectionModelOptions<T>;
  #shared: SharedSubscription | undefined;
  #stops: (() => void)[] = [];

  constructor(options: ConnectionModelOptions<T>) {
    this.#options = options;
  }

  /** The subscription while connected. */
  get subscription(): Subscription | undefined {
    return this.#shared?.subscription;
  }

  connect(): void {
    if (this.#shared) return;
    const shared = (this.#options.atmosphere ?? defaultClient).share(this.#options.request);
    this.#shared = shared;
    const subscription = shared.subscription;
    const decode = this.#options.decode ?? ((message: AtmosphereMessage) => message.text as T);
    const keep = this.#options.keep ?? 100;
    this.#stops = [
      subscription.on('state', (state) =>
        this.#store.update({
          state,
          trackingId: subscription.trackingId === '0' ? null : subscription.trackingId,
        }),
      ),
      subscription.on('message', (message) => {
        let data: T;
        try {
          data = decode(message);
        } catch (error) {
          this.#store.update({ error: error instanceof Error ? error : new Error(String(error)) });
          return;
        }
        const previous = this.getSnapshot().messages;
        const messages =
          previous.length >= keep
            ? [...previous.slice(previous.length - keep + 1), data]
            : [...previous, data];
        this.#store.update({ data, messages });
      }),
      subscription.on('error', (error) => this.#store.update({ error })),
      subscription.on('reset', (lastReset) => this.#store.update({ lastReset })),
    ];
    this.#store.update({
      state: subscription.state,
      trackingId: subscription.trackingId === '0' ? null : subscription.trackingId,
    });
  }

  disconnect(): void {
    if (!this.#shared) return;
    for (const stop of this.#stops) stop();
    this.#stops = [];
    this.#shared.release();
    this.#shared = undefined;
    this.#store.update({ state: 'disconnected' });
  }

  /** Sends a message (queued while not connected). Throws `CLOSED` when the model is disconnected. */
  push(message: PushMessage): void {
    const subscription = this.#shared?.subscription;
    if (!subscription)
      throw new AtmosphereClientError(
        'CLOSED',
        'Not connected: call connect() first (the bindings do it on mount).',
      );
    subscription.push(message);
  }
}
