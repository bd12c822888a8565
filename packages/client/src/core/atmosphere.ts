import type { SubscriptionHandlers } from './events.ts';
import { type AtmosphereRequest, resolveRequest, type ResolvedRequest } from './request.ts';
import { Subscription } from './subscription.ts';

/** Options of an {@link Atmosphere} client. */
export interface AtmosphereConfig {
  /** Defaults merged under every request of this client (e.g. `{ transport: 'sse', headers: {...} }`). */
  defaults?: Partial<AtmosphereRequest>;
}

/**
 * A handle on a shared subscription: several users (hooks, stores) of the same endpoint share one
 * connection. Call `release()` once when done; the connection closes after the last release.
 */
export interface SharedSubscription {
  readonly subscription: Subscription;
  /** Gives the handle back. Idempotent. */
  release(): void;
}

interface SharedEntry {
  readonly subscription: Subscription;
  references: number;
}

/** What makes two requests the same connection. */
function shareKey(request: ResolvedRequest): string {
  const headers = Object.keys(request.headers)
    .sort()
    .map((name) => [name, request.headers[name]]);
  return JSON.stringify([
    request.url,
    request.transports,
    headers,
    request.authToken ?? null,
    request.withCredentials,
    request.trackMessageLength,
    request.enableProtocol,
  ]);
}

/**
 * An Atmosphere client: creates subscriptions and keeps track of them. Most applications use the
 * default instance, {@link atmosphere}; create another for separate defaults or to close a group of
 * subscriptions together (`closeAll()`).
 */
export class Atmosphere {
  readonly #defaults: Partial<AtmosphereRequest>;
  readonly #live = new Set<Subscription>();
  readonly #shared = new Map<string, SharedEntry>();

  constructor(config: AtmosphereConfig = {}) {
    this.#defaults = config.defaults ?? {};
  }

  /**
   * Opens a subscription to `request.url`. Returns at once; the connection opens in the background and
   * `handlers` (or `subscription.on(...)`) hear about it. Throws `INVALID_OPTION` for a bad request.
   * The caller owns the subscription and closes it.
   */
  subscribe(request: AtmosphereRequest, handlers?: SubscriptionHandlers): Subscription {
    const subscription = new Subscription(resolveRequest({ ...this.#defaults, ...request }), handlers);
    this.#track(subscription);
    return subscription;
  }

  /**
   * A shared subscription for `request`: the first caller opens it, later callers with the same URL,
   * transports and credentials get the same one (their other options are ignored), and it closes when
   * the last handle is released. Releases are settled on a microtask, so a release immediately followed
   * by an acquire (React StrictMode's double effects) keeps the connection.
   */
  share(request: AtmosphereRequest): SharedSubscription {
    const resolved = resolveRequest({ ...this.#defaults, ...request });
    const key = shareKey(resolved);
    let entry = this.#shared.get(key);
    if (!entry || entry.subscription.state === 'closed' || entry.subscription.state === 'error') {
      const subscription = new Subscription(resolved);
      this.#track(subscription);
      entry = { subscription, references: 0 };
      this.#shared.set(key, entry);
    }
    const shared = entry;
    shared.references++;
    let released = false;
    return {
      subscription: shared.subscription,
      release: () => {
        if (released) return;
        released = true;
        shared.references--;
        queueMicrotask(() => {
          if (shared.references > 0) return;
          if (this.#shared.get(key) === shared) this.#shared.delete(key);
          void shared.subscription.close();
        });
      },
    };
  }

  /** Subscriptions not yet closed. */
  get subscriptions(): readonly Subscription[] {
    return [...this.#live];
  }

  /** Closes every subscription of this client (each sends its close request). */
  async closeAll(options: { signal?: AbortSignal } = {}): Promise<void> {
    this.#shared.clear();
    await Promise.all([...this.#live].map((subscription) => subscription.close(options)));
  }

  #track(subscription: Subscription): void {
    this.#live.add(subscription);
    const stop = subscription.on('state', (state) => {
      if (state === 'closed' || state === 'error') {
        this.#live.delete(subscription);
        stop();
      }
    });
  }
}

/** The default client. */
export const atmosphere: Atmosphere = /* @__PURE__ */ new Atmosphere();

/** `atmosphere.subscribe(request, handlers)` on the default client. */
export function subscribe(request: AtmosphereRequest, handlers?: SubscriptionHandlers): Subscription {
  return atmosphere.subscribe(request, handlers);
}
