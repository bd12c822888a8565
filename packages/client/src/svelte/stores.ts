import { ChatModel, type ChatSnapshot } from '../ai/chat-model.ts';
import type { SendOptions } from '../ai/streaming.ts';
import { StreamingModel, type StreamingSnapshot } from '../ai/streaming-model.ts';
import type { Atmosphere } from '../core/atmosphere.ts';
import type { PushMessage } from '../core/subscription.ts';
import { ConnectionModel, type ConnectionSnapshot } from '../models/connection-model.ts';
import type {
  UseAtmosphereOptions,
  UseChatOptions,
  UseRoomOptions,
  UseStreamingOptions,
} from '../models/options.ts';
import type { Model } from '../models/store.ts';
import { type PresenceSnapshot, presenceOf, RoomModel, type RoomSnapshot } from '../rooms/room-model.ts';
import { getAtmosphereContext } from './context.ts';

/** The Svelte store contract: `$store` works on anything with this `subscribe`. */
export interface Readable<T> {
  subscribe: (run: (value: T) => void, invalidate?: () => void) => () => void;
}

/**
 * A Svelte store over a model: the first subscriber connects it, the last one disconnects it (its shared
 * connection closes after the last user). `store` is the object itself, as atmosphere.js returned it.
 */
function storeOf<M extends Model<object>, V>(
  model: M,
  enabled: boolean,
  view: (snapshot: ReturnType<M['getSnapshot']>) => V,
): Readable<V> {
  const runs = new Set<(value: V) => void>();
  let stop: (() => void) | undefined;
  let current: V | undefined;
  const value = (): V => view(model.getSnapshot() as ReturnType<M['getSnapshot']>);
  return {
    subscribe(run) {
      runs.add(run);
      if (runs.size === 1) {
        current = value();
        stop = model.subscribe(() => {
          current = value();
          for (const listener of [...runs]) listener(current);
        });
        if (enabled) model.connect();
      }
      run(current ?? value());
      return () => {
        if (!runs.delete(run) || runs.size > 0) return;
        stop?.();
        stop = undefined;
        model.disconnect();
      };
    },
  };
}

/** A live connection as a store (`$conn.state`, `$conn.data`, `$conn.messages`) with `push`. */
export function createAtmosphereStore<T = string>(
  options: UseAtmosphereOptions<T>,
  instance?: Atmosphere,
): Readable<ConnectionSnapshot<T>> & {
  store: Readable<ConnectionSnapshot<T>>;
  push(message: PushMessage): void;
} {
  const model = new ConnectionModel<T>({ ...options, atmosphere: instance ?? getAtmosphereContext() });
  const store = storeOf(model, options.enabled ?? true, (snapshot) => snapshot);
  return { subscribe: store.subscribe, store, push: (message) => model.push(message) };
}

/** An AI stream as a store (`$ai.fullText`, `$ai.isStreaming`, …) with `send`, `approve`, `deny`, `reset`. */
export function createStreamingStore(
  options: UseStreamingOptions,
  instance?: Atmosphere,
): Readable<StreamingSnapshot> & {
  store: Readable<StreamingSnapshot>;
  send: (prompt: string | object, options?: SendOptions) => void;
  approve: (approvalId: string, editedArguments?: Readonly<Record<string, unknown>>) => void;
  deny: (approvalId: string) => void;
  stop: () => boolean;
  /** Guidance for the running answer (next step boundary); its id, or undefined when none is running. */
  steer: (text: string) => string | undefined;
  reset: () => void;
} {
  const model = new StreamingModel({
    request: options.request,
    atmosphere: instance ?? getAtmosphereContext(),
    ...(options.paintTiming ? { paintTiming: options.paintTiming } : {}),
  });
  const store = storeOf(model, options.enabled ?? true, (snapshot) => snapshot);
  return {
    subscribe: store.subscribe,
    store,
    send: (prompt, sendOptions) => model.send(prompt, sendOptions),
    approve: (id, args) => model.approve(id, args),
    deny: (id) => model.deny(id),
    stop: () => model.stop(),
    steer: (text) => model.steer(text),
    reset: () => model.reset(),
  };
}

/** A chat over an AI stream as a store (`$chat.messages`, `$chat.isLoading`, …) with its actions. */
export function createChatStore(
  options: UseChatOptions,
  instance?: Atmosphere,
): Readable<ChatSnapshot> & {
  store: Readable<ChatSnapshot>;
  setInput: (input: string) => void;
  append: (content: string, options?: SendOptions) => void;
  handleSubmit: (event?: { preventDefault(): void }) => void;
  stop: () => void;
  /** Guidance for the current answer (next step boundary); its id, or undefined when none is running. */
  steer: (text: string) => string | undefined;
  reset: () => void;
} {
  const model = new ChatModel({ ...options, atmosphere: instance ?? getAtmosphereContext() });
  const store = storeOf(model, options.enabled ?? true, (snapshot) => snapshot);
  return {
    subscribe: store.subscribe,
    store,
    setInput: (input) => model.setInput(input),
    append: (content, sendOptions) => model.append(content, sendOptions),
    handleSubmit: (event) => model.handleSubmit(event),
    stop: () => model.stop(),
    steer: (text) => model.steer(text),
    reset: () => model.reset(),
  };
}

/** A joined room as a store (`$room.members`, `$room.messages`, …) with `broadcast`, `sendTo`, `setTyping`. */
export function createRoomStore<T = unknown>(
  options: UseRoomOptions,
  instance?: Atmosphere,
): Readable<RoomSnapshot<T>> & {
  store: Readable<RoomSnapshot<T>>;
  broadcast: (data: T) => void;
  sendTo: (memberId: string, data: T) => void;
  setTyping: (typing: boolean) => void;
  /** Stops an AI member's running answer (`sessionId`: that one only); a viewer's stop is refused (`roles`). */
  stop: (memberId: string, sessionId?: string) => void;
  /** Guidance for an AI member's running answer at its next step boundary; returns its steer id. */
  steer: (memberId: string, text: string, sessionId?: string) => string;
} {
  const model = new RoomModel<T>({ ...options, atmosphere: instance ?? getAtmosphereContext() });
  const store = storeOf(model, options.enabled ?? true, (snapshot) => snapshot);
  return {
    subscribe: store.subscribe,
    store,
    broadcast: (data) => model.broadcast(data),
    sendTo: (memberId, data) => model.sendTo(memberId, data),
    setTyping: (typing) => model.setTyping(typing),
    stop: (memberId, sessionId) => model.stop(memberId, sessionId),
    steer: (memberId, text, sessionId) => model.steer(memberId, text, sessionId),
  };
}

/** Who is in a room, as a store: `$presence.members`, `$presence.count`, `$presence.isOnline(id)`. */
export function createPresenceStore(
  options: UseRoomOptions,
  instance?: Atmosphere,
): Readable<PresenceSnapshot> & { store: Readable<PresenceSnapshot> } {
  const model = new RoomModel({
    ...options,
    paintTiming: false,
    atmosphere: instance ?? getAtmosphereContext(),
  });
  const store = storeOf(model, options.enabled ?? true, presenceOf);
  return { subscribe: store.subscribe, store };
}
