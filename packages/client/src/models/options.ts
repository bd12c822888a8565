import type { ChatEntry } from '../ai/chat-model.ts';
import type { PaintTimingOptions } from '../ai/paint-timing.ts';
import type { SendOptions } from '../ai/streaming.ts';
import type { AtmosphereMessage } from '../core/events.ts';
import type { AtmosphereRequest } from '../core/request.ts';

/** Options of `useAtmosphere` (React, Vue) and `createAtmosphereStore` (Svelte). */
export interface UseAtmosphereOptions<T> {
  request: AtmosphereRequest;
  /** Connect only while true. Default true. */
  enabled?: boolean;
  /** How a message becomes `data`. Default: its text. */
  decode?: (message: AtmosphereMessage) => T;
  /** How many messages `messages` keeps. Default 100. */
  keep?: number;
}

/** Options of `useStreaming` / `createStreamingStore`. */
export interface UseStreamingOptions {
  request: AtmosphereRequest;
  enabled?: boolean;
  /**
   * Reports, for a sample of the answer's text frames, when they were received and painted (the animation
   * frame after the re-render), for the server's token-to-paint metrics. Off by default; `true` for the
   * defaults (10 % of the frames, batches every 2 s).
   */
  paintTiming?: boolean | PaintTimingOptions;
}

/** Options of `useChat` / `createChatStore`. */
export interface UseChatOptions extends UseStreamingOptions {
  initialMessages?: readonly ChatEntry[];
  sendOptions?: SendOptions;
  generateId?: () => string;
}

/** Options of `useRoom`, `usePresence` / `createRoomStore`, `createPresenceStore`. */
export interface UseRoomOptions {
  request: AtmosphereRequest;
  room: string;
  member: { id: string; metadata?: Readonly<Record<string, unknown>> };
  enabled?: boolean;
  /** Replay the room's history on join: `true` for all of it, or the last message id already known. */
  history?: boolean | number;
  /** Messages kept in `messages`. Default 200. */
  keep?: number;
  /**
   * Reports, for a sample of the text frames of AI members' answers, when they were received and painted (the
   * animation frame after the re-render), for the server's token-to-paint metrics. Off by default; `true` for
   * the defaults (10 % of the frames, batches every 2 s). `useRoom` only: a presence view never reports.
   */
  paintTiming?: boolean | PaintTimingOptions;
}
