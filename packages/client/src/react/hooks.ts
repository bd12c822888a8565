import { type RoomMember } from '@atmosphere/protocol';
import { useCallback, useMemo } from 'react';
import { ChatModel, type ChatSnapshot } from '../ai/chat-model.ts';
import type { SendOptions } from '../ai/streaming.ts';
import { StreamingModel, type StreamingSnapshot } from '../ai/streaming-model.ts';
import type { PushMessage, Subscription } from '../core/subscription.ts';
import { ConnectionModel, type ConnectionSnapshot } from '../models/connection-model.ts';
import { type PresenceSnapshot, presenceOf, RoomModel, type RoomSnapshot } from '../rooms/room-model.ts';
import type {
  UseAtmosphereOptions,
  UseChatOptions,
  UseRoomOptions,
  UseStreamingOptions,
} from '../models/options.ts';
import { useAtmosphereClient } from './provider.ts';
import { optionsKey, useModel } from './use-model.ts';

/** What {@link useAtmosphere} returns: the connection snapshot, the subscription and `push`. */
export interface UseAtmosphereResult<T> extends ConnectionSnapshot<T> {
  /** The subscription while mounted (shared with other hooks on the same endpoint). */
  subscription: Subscription | null;
  push: (message: PushMessage) => void;
}

/**
 * A live connection: its state, the last message (`data`), recent messages, and `push`. Hooks on the same
 * endpoint share one connection; it closes when the last one unmounts.
 */
export function useAtmosphere<T = string>(options: UseAtmosphereOptions<T>): UseAtmosphereResult<T> {
  const client = useAtmosphereClient();
  const [model, snapshot] = useModel(
    () => new ConnectionModel<T>({ ...options, atmosphere: client }),
    optionsKey([options.request, options.keep]),
    options.enabled ?? true,
  );
  const push = useCallback((message: PushMessage) => model.push(message), [model]);
  return useMemo(
    () => ({ ...snapshot, subscription: model.subscription ?? null, push }),
    [snapshot, model, push],
  );
}

/** What {@link useStreaming} returns: the stream snapshot and its actions. */
export interface UseStreamingResult extends StreamingSnapshot {
  /** Sends a prompt and starts a fresh text. */
  send: (prompt: string | object, options?: SendOptions) => void;
  approve: (approvalId: string, editedArguments?: Readonly<Record<string, unknown>>) => void;
  deny: (approvalId: string) => void;
  /** Stops the answer on the server (the text so far stands); false when none is running. */
  stop: () => boolean;
  /** Sends guidance to the running answer (next step boundary); its id, or undefined when none is running. */
  steer: (text: string) => string | undefined;
  /** Clears the session state. */
  reset: () => void;
}

/** An AI stream (PROTOCOL.md §7) as state: `fullText`, `isStreaming`, `progress`, `metadata`, `error`, approvals, … */
export function useStreaming(options: UseStreamingOptions): UseStreamingResult {
  const client = useAtmosphereClient();
  const [model, snapshot] = useModel(
    () =>
      new StreamingModel({
        request: options.request,
        atmosphere: client,
        ...(options.paintTiming ? { paintTiming: options.paintTiming } : {}),
      }),
    optionsKey([options.request, options.paintTiming]),
    options.enabled ?? true,
  );
  return useMemo(
    () => ({
      ...snapshot,
      send: (prompt: string | object, sendOptions?: SendOptions) => model.send(prompt, sendOptions),
      approve: (id: string, args?: Readonly<Record<string, unknown>>) => model.approve(id, args),
      deny: (id: string) => model.deny(id),
      stop: () => model.stop(),
      steer: (text: string) => model.steer(text),
      reset: () => model.reset(),
    }),
    [snapshot, model],
  );
}

/** What {@link useChat} returns: the chat snapshot and its actions. */
export interface UseChatResult extends ChatSnapshot {
  setInput: (input: string) => void;
  append: (content: string, options?: SendOptions) => void;
  handleSubmit: (event?: { preventDefault(): void }) => void;
  stop: () => void;
  /** Sends guidance to the current answer (next step boundary); its id, or undefined when none is running. */
  steer: (text: string) => string | undefined;
  reset: () => void;
}

/** A chat over an AI stream: user and assistant messages, the answer growing token by token. */
export function useChat(options: UseChatOptions): UseChatResult {
  const client = useAtmosphereClient();
  const [model, snapshot] = useModel(
    () => new ChatModel({ ...options, atmosphere: client }),
    optionsKey(options.request),
    options.enabled ?? true,
  );
  return useMemo(
    () => ({
      ...snapshot,
      setInput: (input: string) => model.setInput(input),
      append: (content: string, sendOptions?: SendOptions) => model.append(content, sendOptions),
      handleSubmit: (event?: { preventDefault(): void }) => model.handleSubmit(event),
      stop: () => model.stop(),
      steer: (text: string) => model.steer(text),
      reset: () => model.reset(),
    }),
    [snapshot, model],
  );
}

/** What {@link useRoom} returns: the room snapshot and its actions. */
export interface UseRoomResult<T> extends RoomSnapshot<T> {
  broadcast: (data: T) => void;
  sendTo: (memberId: string, data: T) => void;
  setTyping: (typing: boolean) => void;
  /** Stops an AI member's running answer (`sessionId`: that one only); a viewer's stop is refused (`roles`). */
  stop: (memberId: string, sessionId?: string) => void;
  /** Guidance for an AI member's running answer at its next step boundary; returns its steer id. */
  steer: (memberId: string, text: string, sessionId?: string) => string;
}

/** A joined room (PROTOCOL.md §8): `joined`, `members`, `messages`, `typing`, `broadcast`, `sendTo`. */
export function useRoom<T = unknown>(options: UseRoomOptions): UseRoomResult<T> {
  const client = useAtmosphereClient();
  const [model, snapshot] = useModel(
    () => new RoomModel<T>({ ...options, atmosphere: client }),
    optionsKey([options.request, options.room, options.member.id, options.paintTiming]),
    options.enabled ?? true,
  );
  return useMemo(
    () => ({
      ...snapshot,
      broadcast: (data: T) => model.broadcast(data),
      sendTo: (memberId: string, data: T) => model.sendTo(memberId, data),
      setTyping: (typing: boolean) => model.setTyping(typing),
      stop: (memberId: string, sessionId?: string) => model.stop(memberId, sessionId),
      steer: (memberId: string, text: string, sessionId?: string) => model.steer(memberId, text, sessionId),
    }),
    [snapshot, model],
  );
}

/** Who is in a room: `members`, `count`, `isOnline(id)`. Shares the membership of a `useRoom` on the same room. */
export function usePresence(options: UseRoomOptions): PresenceSnapshot {
  const client = useAtmosphereClient();
  const [, snapshot] = useModel(
    () => new RoomModel({ ...options, paintTiming: false, atmosphere: client }),
    optionsKey([options.request, options.room, options.member.id]),
    options.enabled ?? true,
  );
  return useMemo(() => presenceOf(snapshot), [snapshot]);
}

export type { RoomMember };

export type { UseAtmosphereOptions, UseChatOptions, UseRoomOptions, UseStreamingOptions };
