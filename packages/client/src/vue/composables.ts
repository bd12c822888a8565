import { type RoomMember } from '@atmosphere/protocol';
import { computed, type ComputedRef } from 'vue';
import { ChatModel, type ChatSnapshot } from '../ai/chat-model.ts';
import type { SendOptions } from '../ai/streaming.ts';
import { StreamingModel, type StreamingSnapshot } from '../ai/streaming-model.ts';
import type { PushMessage, Subscription } from '../core/subscription.ts';
import { ConnectionModel, type ConnectionSnapshot } from '../models/connection-model.ts';
import { presenceOf, RoomModel, type RoomSnapshot } from '../rooms/room-model.ts';
import type {
  UseAtmosphereOptions,
  UseChatOptions,
  UseRoomOptions,
  UseStreamingOptions,
} from '../models/options.ts';
import { useAtmosphereClient } from './provider.ts';
import { refsOf, type SnapshotRefs, useModel } from './use-model.ts';

export type { UseAtmosphereOptions, UseChatOptions, UseRoomOptions, UseStreamingOptions };

/** A live connection as refs (`state`, `data`, `messages`, `error`, `trackingId`) and `push`. Shared per endpoint. */
export function useAtmosphere<T = string>(
  options: UseAtmosphereOptions<T>,
): SnapshotRefs<ConnectionSnapshot<T>> & {
  subscription(): Subscription | undefined;
  push(message: PushMessage): void;
} {
  const model = new ConnectionModel<T>({ ...options, atmosphere: useAtmosphereClient() });
  const state = useModel(model, options.enabled ?? true);
  return { ...refsOf(state), subscription: () => model.subscription, push: (message) => model.push(message) };
}

/** An AI stream as refs: `fullText`, `isStreaming`, `progress`, `metadata`, `error`, `approvals`, … and `send`. */
export function useStreaming(options: UseStreamingOptions): SnapshotRefs<StreamingSnapshot> & {
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
    atmosphere: useAtmosphereClient(),
    ...(options.paintTiming ? { paintTiming: options.paintTiming } : {}),
  });
  const state = useModel(model, options.enabled ?? true);
  return {
    ...refsOf(state),
    send: (prompt, sendOptions) => model.send(prompt, sendOptions),
    approve: (id, args) => model.approve(id, args),
    deny: (id) => model.deny(id),
    stop: () => model.stop(),
    steer: (text) => model.steer(text),
    reset: () => model.reset(),
  };
}

/** A chat over an AI stream as refs (`messages`, `input`, `isLoading`, …) and actions. */
export function useChat(options: UseChatOptions): SnapshotRefs<ChatSnapshot> & {
  setInput: (input: string) => void;
  append: (content: string, options?: SendOptions) => void;
  handleSubmit: (event?: { preventDefault(): void }) => void;
  stop: () => void;
  /** Guidance for the current answer (next step boundary); its id, or undefined when none is running. */
  steer: (text: string) => string | undefined;
  reset: () => void;
} {
  const model = new ChatModel({ ...options, atmosphere: useAtmosphereClient() });
  const state = useModel(model, options.enabled ?? true);
  return {
    ...refsOf(state),
    setInput: (input) => model.setInput(input),
    append: (content, sendOptions) => model.append(content, sendOptions),
    handleSubmit: (event) => model.handleSubmit(event),
    stop: () => model.stop(),
    steer: (text) => model.steer(text),
    reset: () => model.reset(),
  };
}

/** A joined room as refs (`joined`, `members`, `messages`, `typing`, `error`) and `broadcast`/`sendTo`. */
export function useRoom<T = unknown>(
  options: UseRoomOptions,
): SnapshotRefs<RoomSnapshot<T>> & {
  broadcast: (data: T) => void;
  sendTo: (memberId: string, data: T) => void;
  setTyping: (typing: boolean) => void;
  /** Stops an AI member's running answer (`sessionId`: that one only); a viewer's stop is refused (`roles`). */
  stop: (memberId: string, sessionId?: string) => void;
  /** Guidance for an AI member's running answer at its next step boundary; returns its steer id. */
  steer: (memberId: string, text: string, sessionId?: string) => string;
} {
  const model = new RoomModel<T>({ ...options, atmosphere: useAtmosphereClient() });
  const state = useModel(model, options.enabled ?? true);
  return {
    ...refsOf(state),
    broadcast: (data) => model.broadcast(data),
    sendTo: (memberId, data) => model.sendTo(memberId, data),
    setTyping: (typing) => model.setTyping(typing),
    stop: (memberId, sessionId) => model.stop(memberId, sessionId),
    steer: (memberId, text, sessionId) => model.steer(memberId, text, sessionId),
  };
}

/** Who is in a room, as refs: `joined`, `members`, `count`, and `isOnline(id)`. */
export function usePresence(options: UseRoomOptions): {
  joined: ComputedRef<boolean>;
  members: ComputedRef<readonly RoomMember[]>;
  count: ComputedRef<number>;
  isOnline: (memberId: string) => boolean;
} {
  const model = new RoomModel({ ...options, paintTiming: false, atmosphere: useAtmosphereClient() });
  const state = useModel(model, options.enabled ?? true);
  const presence = computed(() => presenceOf(state.value));
  return {
    joined: computed(() => presence.value.joined),
    members: computed(() => presence.value.members),
    count: computed(() => presence.value.count),
    isOnline: (memberId) => presence.value.isOnline(memberId),
  };
}
