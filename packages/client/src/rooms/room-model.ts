import { type AiRole, type RoomAiFrame, type RoomMember } from '@atmosphere/protocol';
import { atmosphere as defaultClient, type Atmosphere, type SharedSubscription } from '../core/atmosphere.ts';
import type { ConnectionState, ResetEvent } from '../core/events.ts';
import type { AtmosphereRequest } from '../core/request.ts';
import { AtmosphereClientError } from '../errors.ts';
import { type Model, Store } from '../models/store.ts';
import type { PaintTimingOptions } from '../ai/paint-timing.ts';
import { AtmosphereRooms, type RoomHandle, type RoomMessage } from './rooms.ts';

/** An AI member's answer while it streams to the room. */
export interface RoomStream {
  readonly sessionId: string;
  /** The AI member answering. */
  readonly from: string;
  /** The text so far. */
  readonly text: string;
  /** True once the `complete` (or `error`) frame arrived. */
  readonly done: boolean;
  /** True when a member stopped it (its `complete` said `stopped`): the text so far stands. */
  readonly stopped: boolean;
  readonly error: string | undefined;
}

/** What `useRoom` shows. */
export interface RoomSnapshot<T = unknown> {
  readonly joined: boolean;
  readonly members: readonly RoomMember[];
  /** Messages received while mounted (the last `keep`), oldest first. */
  readonly messages: readonly RoomMessage<T>[];
  /** Members currently typing. */
  readonly typing: readonly string[];
  /**
   * AI answers streaming right now, oldest first. An answer leaves this list when its final `message`
   * (carrying the same `sessionId` in its data) arrives in `messages`; one whose final message the server could
   * not keep (`LOG_FAILED`) stays, `done`, with that `error`.
   */
  readonly streams: readonly RoomStream[];
  /** This connection's role towards each AI member's answers, by member id (a `viewer` may not stop or steer). */
  readonly roles: Readonly<Record<string, AiRole>>;
  readonly error: Error | null;
  readonly connectionState: ConnectionState;
  /**
   * The last gap of this room's stream the server could not fill (a `reset`), or null. The room asks for
   * its history again (`sinceId`) on its own; messages the history no longer holds are lost.
   */
  readonly lastReset: ResetEvent | null;
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
  /** Replay the room's history on join: `true` for all of it, or the last message id already known. */
  history?: boolean | number;
  atmosphere?: Atmosphere;
  /** Paint timing of AI members' answers (see `RoomJoinOptions.paintTiming`). Off by default. */
  paintTiming?: boolean | PaintTimingOptions;
}

/** A joined room seen as state, on a shared connection (for `useRoom`/`usePresence` and their Vue/Svelte forms). */
export class RoomModel<T = unknown> implements Model<RoomSnapshot<T>> {
  readonly #store = new Store<RoomSnapshot<T>>({
    joined: false,
    members: [],
    messages: [],
    typing: [],
    streams: [],
    roles: {},
    error: null,
    connectionState: 'disconnected',
    lastReset: null,
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
    const roles = (): Record<string, AiRole> => Object.fromEntries(this.#handle?.roles ?? []);
    try {
      this.#handle = AtmosphereRooms.for(shared.subscription).join<T>(
        options.room,
        options.member,
        {
          joined: (list) => store.update({ joined: true, members: [...list], roles: roles(), error: null }),
          presence: (event) =>
            store.update({
              members: members(),
              typing:
                event.action === 'leave'
                  ? store.getSnapshot().typing.filter((id) => id !== event.member.id)
                  : store.getSnapshot().typing,
            }),
          message: (message) => {
            const { messages, streams } = store.getSnapshot();
            const sessionId = (message.data as { sessionId?: unknown } | null | undefined)?.sessionId;
            const next = withMessage(messages, message);
            store.update({
              messages: next.length > keep ? next.slice(next.length - keep) : next,
              ...(typeof sessionId === 'string' && streams.some((s) => s.sessionId === sessionId)
                ? { streams: streams.filter((s) => s.sessionId !== sessionId) }
                : {}),
            });
          },
          ai: (from, frame) =>
            store.update({ streams: nextStreams(store.getSnapshot().streams, from, frame) }),
          typing: (memberId, typing) => {
            const others = store.getSnapshot().typing.filter((id) => id !== memberId);
            store.update({ typing: typing ? [...others, memberId] : others });
          },
          role: () => store.update({ roles: roles() }),
          error: (error, about) => {
            const sessionId = about.sessionId;
            const { streams } = store.getSnapshot();
            // An answer whose reply was not kept: its bubble ends with the error instead of its message.
            store.update(
              sessionId !== undefined && streams.some((s) => s.sessionId === sessionId)
                ? {
                    error,
                    streams: streams.map((s) =>
                      s.sessionId === sessionId ? { ...s, done: true, error: error.message } : s,
                    ),
                  }
                : { error },
            );
          },
          reset: (lastReset) => store.update({ lastReset }),
        },
        options,
      );
      // A membership shared with another model may know its roles already.
      if (this.#handle.roles.size > 0) store.update({ roles: roles() });
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

  /** Stops an AI member's running answer (`sessionId`: that one only). See `RoomHandle.stop`. */
  stop(memberId: string, sessionId?: string): void {
    this.#require().stop(memberId, sessionId);
  }

  /** Guidance for an AI member's running answer; returns its steer id. See `RoomHandle.steer`. */
  steer(memberId: string, text: string, sessionId?: string): string {
    return this.#require().steer(memberId, text, sessionId);
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

const MAX_STREAMS = 20;

/**
 * The messages with one more, kept in id order: history fetched again after a reconnect or a reset
 * (`sinceId`) arrives after newer live messages, and goes where its ids say. Messages without id go last.
 */
function withMessage<T>(messages: readonly RoomMessage<T>[], message: RoomMessage<T>): RoomMessage<T>[] {
  const id = message.id;
  const last = messages[messages.length - 1];
  if (id === undefined || last?.id === undefined || last.id < id) return [...messages, message];
  let index = messages.length;
  while (index > 0) {
    const before = messages[index - 1]!.id;
    if (before !== undefined && before < id) break;
    index--;
  }
  return [...messages.slice(0, index), message, ...messages.slice(index)];
}

/** The streams after one AI frame: text appended, `complete`/`error` marking it done. */
function nextStreams(
  streams: readonly RoomStream[],
  from: string,
  frame: RoomAiFrame,
): readonly RoomStream[] {
  const index = streams.findIndex((s) => s.sessionId === frame.sessionId);
  const current: RoomStream =
    index === -1
      ? { sessionId: frame.sessionId, from, text: '', done: false, stopped: false, error: undefined }
      : streams[index]!;
  let next = current;
  if (frame.type === 'streaming-text' && typeof frame.data === 'string')
    next = { ...current, text: current.text + frame.data };
  else if (frame.type === 'complete') next = { ...current, done: true, stopped: frame.reason === 'stopped' };
  else if (frame.type === 'error')
    next = { ...current, done: true, error: typeof frame.data === 'string' ? frame.data : 'error' };
  if (next === current && index !== -1) return streams;
  if (index !== -1) return streams.map((s, i) => (i === index ? next : s));
  const appended = [...streams, next];
  return appended.length > MAX_STREAMS ? appended.slice(appended.length - MAX_STREAMS) : appended;
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
