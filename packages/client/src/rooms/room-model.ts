import { atmosphere as defaultClient, type Atmosphere, type SharedSubscription } from '../core/atmosphere.ts';
import type { ConnectionState } from '../core/events.ts';
import type { AtmosphereRequest } from '../core/request.ts';
import { AtmosphereClientError } from '../errors.ts';
import { type Model, Store } from '../models/store.ts';
import type { RoomMember } from './protocol.ts';
import { AtmosphereRooms, type RoomHandle, type RoomMessage } from './rooms.ts';

/** What `useRoom` shows. */
export interface RoomSnapshot<T = unknown> {
  readonly joined: boolean;
  readonly members: readonly RoomMember[];
  /** Messages received while mounted (the last `keep`), oldest first. */
  readonly messages: readonly RoomMessage<T>[];
  /** Members currently typing. */
  readonly typing: readonly string[];
  readonly error: Error | null;
  readonly connectionState: ConnectionState;
}

/** What `usePresence` shows. */
export interface PresenceSnapshot {
  readonly joined: boolean;
  readonly members: readonly RoomMember[];
  readonly count: number;
  isOnline: (memberId: string) => boolean;
}

/** Options of a {@link RoomModel}. */
export interface RoomModelOptions {
  request: AtmosphereRequest;
  room: string;
  member: { id: string; metadata?: Readonly<Record<string, unknown>> };
  /** Messages kept in `messages`. Default 200. */
  keep?: number;
  atmosphere?: Atmosphere;
}

/** A joined room seen as state, on a shared connection (for `useRoom`/`usePresence` and their Vue/Svelte forms). */
export class RoomModel<T = unknown> implements Model<RoomSnapshot<T>> {
  readonly #store = new Store<RoomSnapshot<T>>({
    joined: false,
    members: [],
    messages: [],
    typing: [],
    error: null,
    connectionState: 'disconnected',
  });
  readonly getSnapshot = this.#store.getSnapshot;
  readonly subscribe = this.#store.subscribe;
  readonly #options: RoomModelOptions;
  #shared: SharedSubscription | undefined;
  #handle: RoomHandle<T> | undefined;
  #offState: (() => void) | undefined;

  constructor(options: RoomModelOptions) {
    this.#options = options;
  }

  connect(): void {
    if (this.#shared) return;
    const options = this.#options;
    const shared = (options.atmosphere ?? defaultClient).share(options.request);
    this.#shared = shared;
    const store = this.#store;
    const keep = options.keep ?? 200;
    const members = (): RoomMember[] => [...(this.#handle?.members.values() ?? [])];
    try {
      this.#handle = AtmosphereRooms.for(shared.subscription).join<T>(options.room, options.member, {
        joined: (list) => store.update({ joined: true, members: [...list], error: null }),
        presence: (event) =>
          store.update({
            members: members(),
            typing:
              event.action === 'leave'
                ? store.getSnapshot().typing.filter((id) => id !== event.member.id)
                : store.getSnapshot().typing,
          }),
        message: (message) => {
          const messages = store.getSnapshot().messages;
          store.update({
            messages:
              messages.length >= keep
                ? [...messages.slice(messages.length - keep + 1), message]
                : [...messages, message],
          });
        },
        typing: (memberId, typing) => {
          const others = store.getSnapshot().typing.filter((id) => id !== memberId);
          store.update({ typing: typing ? [...others, memberId] : others });
        },
        error: (error) => store.update({ error }),
      });
    } catch (error) {
      store.update({ error: error instanceof Error ? error : new Error(String(error)) });
    }
    const subscription = shared.subscription;
    const onState = (state: ConnectionState): void =>
      store.update(
        state === 'connected'
          ? { connectionState: state }
          : { connectionState: state, joined: state === 'reconnecting' ? store.getSnapshot().joined : false },
      );
    this.#offState = subscription.on('state', onState);
    onState(subscription.state);
  }

  disconnect(): void {
    if (!this.#shared) return;
    this.#offState?.();
    this.#handle?.leave();
    this.#handle = undefined;
    this.#shared.release();
    this.#shared = undefined;
    this.#store.update({ joined: false, connectionState: 'disconnected' });
  }

  broadcast(data: T): void {
    this.#require().broadcast(data);
  }

  sendTo(memberId: string, data: T): void {
    this.#require().sendTo(memberId, data);
  }

  setTyping(typing: boolean): void {
    this.#require().typing(typing);
  }

  #require(): RoomHandle<T> {
    if (!this.#handle)
      throw new AtmosphereClientError(
        'CLOSED',
        'Not in the room: call connect() first (the bindings do it on mount).',
      );
    return this.#handle;
  }
}

/** The presence part of a room snapshot. */
export function presenceOf(snapshot: RoomSnapshot<unknown>): PresenceSnapshot {
  const ids = new Set(snapshot.members.map((member) => member.id));
  return {
    joined: snapshot.joined,
    members: snapshot.members,
    count: ids.size,
    isOnline: (memberId) => ids.has(memberId),
  };
}
